//! What every fleet operation starts with: connect to each host, check it
//! runs this very hoist, reach the balancer and check it knows every host,
//! then lock every host. Nothing has changed anywhere until this is done.

use crate::balance::{self, Connected};
use crate::hold::{self, Holds};
use crate::{connect, FleetError, HoistBuild, Host, Progress, Reach};
use std::sync::Arc;

/// A stage, and who drives it from here.
#[derive(Debug, Clone)]
pub struct Target {
    /// The stage's name.
    pub stage_name: String,
    /// Its settings.
    pub stage: hoist_config::Stage,
    /// How its hosts are reached.
    pub reach: Arc<Reach>,
    /// Who runs the operation, `user@machine`.
    pub by: String,
    /// This machine's hoist, which every host must run.
    pub ours: HoistBuild,
}

/// Every host connected and locked for one fleet operation.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The hosts, in stage order, running commands under `op`.
    pub hosts: Vec<Host>,
    /// The balancer, when the stage has one.
    pub balancer: Option<Connected>,
    /// Every host's fleet lock.
    pub holds: Holds,
}

/// Connects to every host of `target` for operation `op`, checks each
/// runs this hoist, and refuses while any has an interrupted operation.
pub(crate) async fn reach_all(
    target: &Target,
    op: &str,
    progress: &dyn Progress,
) -> Result<Vec<Host>, FleetError> {
    let stage = &target.stage;
    let hosts = connect::connect_all(
        &stage.hosts,
        target.reach.clone(),
        stage.max_connections,
        progress,
    )
    .await?;
    let hosts: Vec<Host> = hosts.into_iter().map(|host| host.in_op(op)).collect();
    connect::check_versions(&hosts, &target.ours, &target.stage_name).await?;
    refuse_interrupted(&hosts).await?;
    Ok(hosts)
}

/// Refuses while any host has an interrupted operation awaiting `hoist
/// recover` there: before anything is shipped or changed anywhere.
async fn refuse_interrupted(hosts: &[Host]) -> Result<(), FleetError> {
    #[derive(serde::Deserialize)]
    struct Pending {
        pending: Option<hoist_site::JournalRecord>,
    }
    let answers =
        futures_util::future::join_all(hosts.iter().map(|host| host.run::<Pending>(&["status"])))
            .await;
    for (host, answer) in hosts.iter().zip(answers) {
        if let Some(record) = answer?.pending {
            return Err(FleetError::RecoveryPending {
                host: host.name.clone(),
                what: format!(
                    "{} of `{}` stopped during `{}`",
                    record.op, record.release, record.step
                ),
                recover: format!(
                    "{} {} recover --root {}",
                    host.ssh(),
                    host.hoist_path(),
                    host.root().display()
                ),
            });
        }
    }
    Ok(())
}

/// Opens `target` for an operation described as `what`.
pub(crate) async fn open(
    target: &Target,
    op: &str,
    what: &str,
    progress: &dyn Progress,
) -> Result<Opened, FleetError> {
    let stage = &target.stage;
    let hosts = reach_all(target, op, progress).await?;
    let balancer = balance::connect(stage, &target.reach).await?;
    if let Some(connected) = &balancer {
        let checker = connected.balancer.clone();
        let names = stage.hosts.clone();
        tokio::task::spawn_blocking(move || checker.check(&names))
            .await
            .expect("balancer calls do not panic")?;
    }
    let what = format!("{what} (stage `{}`)", target.stage_name);
    let holds = hold::hold_all(&hosts, op, &target.by, &what, progress).await?;
    Ok(Opened {
        hosts,
        balancer,
        holds,
    })
}
