//! `hoist db status --stage NAME`, `hoist db complete --stage NAME` and
//! `hoist db abort --stage NAME`, and the check a fleet deploy makes
//! before its waves when the release brings the next declarative
//! migration.
//!
//! The stage's hosts share one database, but each host knows what it
//! runs. So every host answers `hoist db status --json` (the expansion,
//! which is the same everywhere, and what serves there on which side); a
//! contract is refused while any host runs a release on the old side, an
//! abort while any runs one on the new side, naming the hosts and their
//! releases; otherwise it runs once, on the first host (which checks its
//! own processes again under its lock). Status asks each host on its own:
//! a host that cannot be reached is a row that says so.
//!
//! ```text
//! open (connect, version, hold) ─ every host: db status ─┬─ the side it drops serves somewhere: refused, naming hosts
//!                                                        └─ first host: db complete | db abort ─ release holds
//! ```

use crate::each::{Failed, HostRun, StagePlan, StageRun};
use crate::{FleetError, Host, Progress};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The part of a host's `hoist db status --json` a stage needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HostDb {
    /// Declarative migrations pending in the migrations asked about.
    pub(crate) pending_declarative: Vec<String>,
    /// The expansion part (absent for SQLite).
    pub(crate) expansion: Option<HostExpansion>,
}

/// The open expansion and what serves on the host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HostExpansion {
    /// The open expansion.
    pub(crate) open: Option<Open>,
    /// What serves there, and on which side.
    pub(crate) serving: Vec<Serving>,
}

/// An open expansion, as a host names it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Open {
    /// Its migration's version.
    pub(crate) version: u64,
    /// `0005_rename_name`.
    pub(crate) name: String,
}

/// A release serving on a host.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Serving {
    /// The release.
    pub release: String,
    /// `live`, `warm`, `candidate` or `current`.
    pub role: String,
    /// `old` or `new`.
    pub side: String,
}

impl HostDb {
    /// The open expansion's name.
    pub(crate) fn open(&self) -> Option<&Open> {
        self.expansion.as_ref()?.open.as_ref()
    }

    /// "`R1` (warm)" for each release on `side` (`old` or `new`), its
    /// role said as the host's own refusal says it.
    fn on_side(&self, side: &str) -> Vec<String> {
        self.expansion
            .iter()
            .flat_map(|expansion| &expansion.serving)
            .filter(|serving| serving.side == side)
            .map(|serving| {
                let role = match serving.role.as_str() {
                    "candidate" => "held candidate",
                    role => role,
                };
                format!("`{}` ({role})", serving.release)
            })
            .collect()
    }
}

/// Every host's `hoist db status`, read only (no lock): a host that cannot
/// be reached or cannot answer is a failed row, and the others still
/// answer (what is open where matters most when a host is down).
pub async fn status(
    plan: &StagePlan,
    progress: &dyn Progress,
) -> Result<StageRun<Value>, Failed<Value>> {
    let started = std::time::Instant::now();
    let mut report = StageRun::new(plan, "", "db status".to_owned());
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(
        plan.stage.max_connections.max(1),
    ));
    let asks = plan.stage.hosts.iter().map(|name| {
        let (gate, reach) = (gate.clone(), plan.reach.clone());
        async move {
            let _permit = gate.acquire().await.expect("the gate is never closed");
            progress.host(name, "connect", "opening ssh");
            let host = match Host::connect(name, reach).await {
                Ok(host) => host,
                Err(error) => {
                    progress.host(name, "failed", &error.to_string());
                    return HostRun::failed_named(name, &error);
                }
            };
            match host.run::<Value>(&["db", "status"]).await {
                Ok(answer) => HostRun::done(&host, "done", answer),
                Err(error) => HostRun::failed(&host, &error),
            }
        }
    });
    report.hosts = futures_util::future::join_all(asks).await;
    let failures = report.failures();
    let result = match failures.is_empty() {
        true => Ok(()),
        false => Err(crate::each::Partial::error(
            "db status".to_owned(),
            failures,
            "the others answered",
            &plan.stage_name,
        )),
    };
    report.settle(started, result)
}

/// What the host's own command is told: `--reason`, and for an abort
/// `--sql-undone`.
#[derive(Debug, Clone, Default)]
pub struct EndArgs {
    /// Why, for each host's ledger.
    pub reason: Option<String>,
    /// The `sql` ops without `down` were undone by hand (abort only).
    pub sql_undone: bool,
}

/// How a stage ends its open expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Contract: refused while any host runs a release on the old side.
    Complete,
    /// Abort: refused while any host runs a release on the new side (the
    /// abort drops that release's view schema, and the database is the
    /// stage's, not one host's).
    Abort,
}

impl End {
    /// The host command (`db <verb>`).
    fn verb(self) -> &'static str {
        match self {
            End::Complete => "complete",
            End::Abort => "abort",
        }
    }
}

/// Contracts the stage's open expansion: refused while any host runs a
/// release on its old side; then run on the first host.
pub async fn complete(
    plan: &StagePlan,
    progress: &dyn Progress,
    args: &EndArgs,
) -> Result<StageRun<Value>, Failed<Value>> {
    end(plan, progress, End::Complete, args).await
}

/// Removes the stage's open expansion: refused while any host runs a
/// release on its new side; then run on the first host, whose own abort
/// checks its side again under its lock.
pub async fn abort(
    plan: &StagePlan,
    progress: &dyn Progress,
    args: &EndArgs,
) -> Result<StageRun<Value>, Failed<Value>> {
    end(plan, progress, End::Abort, args).await
}

async fn end(
    plan: &StagePlan,
    progress: &dyn Progress,
    end: End,
    args: &EndArgs,
) -> Result<StageRun<Value>, Failed<Value>> {
    let started = std::time::Instant::now();
    let action = format!("db {}", end.verb());
    let what = format!("{action} on stage `{}`", plan.stage_name);
    let opened = plan.open(&what, progress).await.map_err(|e| (e, None))?;
    let mut report = StageRun::new(plan, &opened.op, action);
    let result = end_held(plan, &opened.hosts, &mut report, progress, end, args).await;
    opened.close().await;
    report.settle(started, result)
}

async fn end_held(
    plan: &StagePlan,
    hosts: &[Host],
    report: &mut StageRun<Value>,
    progress: &dyn Progress,
    end: End,
    args: &EndArgs,
) -> Result<(), FleetError> {
    let answers = ask(plan, hosts, None).await?;
    let Some(open) = answers.iter().find_map(HostDb::open) else {
        for host in hosts {
            report
                .hosts
                .push(HostRun::done(host, "nothing", Value::Null));
        }
        return Ok(());
    };
    let name = open.name.clone();
    match end {
        End::Complete => refuse_old_side(plan, hosts, &answers, &name, "complete")?,
        End::Abort => refuse_new_side(plan, hosts, &answers, &name)?,
    }
    let Some(first) = hosts.first() else {
        return Ok(());
    };
    let (doing, done_as, outcome) = match end {
        End::Complete => (format!("contracting `{name}`"), "contracted", "completed"),
        End::Abort => (format!("removing `{name}`"), "removed", "aborted"),
    };
    progress.host(&first.name, end.verb(), &doing);
    let mut command = vec!["db", end.verb()];
    if let Some(reason) = &args.reason {
        command.extend(["--reason", reason.as_str()]);
    }
    if args.sql_undone && end == End::Abort {
        command.push("--sql-undone");
    }
    let done: Value = first.run(&command).await?;
    progress.host(&first.name, "done", done_as);
    report.hosts.push(HostRun::done(first, outcome, done));
    for host in &hosts[1..] {
        report
            .hosts
            .push(HostRun::done(host, "checked", Value::Null));
    }
    Ok(())
}

/// Each host and its releases on `side`, for the hosts that run any.
fn hosts_on(hosts: &[Host], answers: &[HostDb], side: &str) -> Vec<(String, String)> {
    hosts
        .iter()
        .zip(answers)
        .filter_map(|(host, answer)| {
            let releases = answer.on_side(side);
            (!releases.is_empty()).then(|| (host.name.clone(), releases.join(", ")))
        })
        .collect()
}

/// Refuses while any host runs a release on the new side of `migration`.
fn refuse_new_side(
    plan: &StagePlan,
    hosts: &[Host],
    answers: &[HostDb],
    migration: &str,
) -> Result<(), FleetError> {
    let new = hosts_on(hosts, answers, "new");
    if new.is_empty() {
        return Ok(());
    }
    Err(FleetError::NewSideServes {
        stage: plan.stage_name.clone(),
        migration: migration.to_owned(),
        hosts: new,
    })
}

/// Every host's `db status` (of `release`'s migrations, when given).
pub(crate) async fn ask(
    plan: &StagePlan,
    hosts: &[Host],
    release: Option<&str>,
) -> Result<Vec<HostDb>, FleetError> {
    let mut args = vec!["db", "status"];
    if let Some(release) = release {
        args.extend(["--release", release]);
    }
    let args = &args;
    let answers = plan.each(hosts, |_, host| host.run::<HostDb>(args)).await;
    answers.into_iter().collect()
}

/// Refuses while any host runs a release on the old side of `migration`.
pub(crate) fn refuse_old_side(
    plan: &StagePlan,
    hosts: &[Host],
    answers: &[HostDb],
    migration: &str,
    doing: &str,
) -> Result<(), FleetError> {
    let old = hosts_on(hosts, answers, "old");
    if old.is_empty() {
        return Ok(());
    }
    Err(FleetError::OldSideServes {
        stage: plan.stage_name.clone(),
        migration: migration.to_owned(),
        doing: doing.to_owned(),
        hosts: old,
    })
}

/// Before a fleet deploy's waves: when `release` brings a declarative
/// migration and another expansion is open, that one is completed first
/// (once, on the first host) if no host runs its old side; else refused,
/// naming the hosts. Each host's own deploy then runs with
/// `--no-contract`: the stage decided.
pub(crate) async fn settle_before_waves(
    plan: &StagePlan,
    hosts: &[Host],
    release: &str,
    progress: &dyn Progress,
) -> Result<(), FleetError> {
    let Some(first) = hosts.first() else {
        return Ok(());
    };
    let brings: HostDb = match first.run(&["db", "status", "--release", release]).await {
        Ok(brings) => brings,
        // A site with no database has no expansion to settle.
        Err(FleetError::Remote { error, .. }) if error.kind == "no-database" => return Ok(()),
        Err(error) => return Err(error),
    };
    let Some(open) = brings.open() else {
        return Ok(());
    };
    let next: Vec<&String> = brings
        .pending_declarative
        .iter()
        .filter(|name| **name != open.name)
        .collect();
    if next.is_empty() {
        return Ok(());
    }
    let name = open.name.clone();
    let answers = ask(plan, hosts, None).await?;
    let doing = format!(
        "deploy `{release}`, which brings {}, while it is open",
        next.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    refuse_old_side(plan, hosts, &answers, &name, &doing)?;
    progress.host(
        &first.name,
        "complete",
        &format!("contracting `{name}` first"),
    );
    let _: Value = first.run(&["db", "complete"]).await?;
    Ok(())
}
