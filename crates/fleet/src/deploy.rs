//! `hoist deploy --stage NAME`: one artifact to every host of a stage.
//!
//! Connect and check every host, lock them all, ship each the files it
//! lacks, stage everywhere (nothing switched unless every host staged),
//! then switch in waves ([`crate::waves`]). The release id inside the
//! artifact is the one id on every host.

use crate::open::{open, Target};
use crate::waves::{wave_names, HostOutcome, How, Move, Waves};
use crate::{balance, ship, FleetError, Host, Progress};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// What to deploy where.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    /// The stage, and who deploys.
    pub target: Target,
    /// The local artifact.
    pub artifact: PathBuf,
    /// `--reason`.
    pub reason: Option<String>,
    /// `--allow-fewer-tests`, for every host's test gate.
    pub allow_fewer_tests: bool,
    /// `--from-stage` with `[parity]`: each host's runtime against the source stage's.
    pub parity: Option<crate::ParityGate>,
}

/// One host's part in the report.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    /// How the switch went on it.
    #[serde(flatten)]
    pub outcome: HostOutcome,
    /// What shipping sent it.
    pub shipped: Option<ship::Shipped>,
}

/// What a fleet deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// The stage.
    pub stage: String,
    /// The fleet operation id, in every host's ledger.
    pub fleet_op: String,
    /// The release, the one id on every host.
    pub release: String,
    /// The artifact's manifest digest (a deploy's).
    pub digest: Option<String>,
    /// `deployed`, `rolled-back-to` (a stage rollback), `already-live`,
    /// `rolled-back` (a failure put it back), `stage-failed`, `failed`.
    pub outcome: &'static str,
    /// Each host.
    pub hosts: Vec<HostReport>,
    /// The hosts of each wave.
    pub waves: Vec<Vec<String>>,
    /// Wall time.
    pub duration_ms: u64,
}

/// A new fleet operation id: when, and which process.
pub fn new_op_id() -> String {
    format!(
        "fleet-{}-{}",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ"),
        std::process::id()
    )
}

/// Deploys `plan.artifact` to the stage. On failure the report (when the
/// operation got as far as hosts) comes with the error.
pub async fn deploy(
    plan: &DeployPlan,
    interrupted: Arc<AtomicBool>,
    progress: &dyn Progress,
) -> Result<FleetReport, (FleetError, Option<FleetReport>)> {
    let started = std::time::Instant::now();
    let opened =
        hoist_store::Artifact::open(&plan.artifact, u64::MAX).map_err(|e| (e.into(), None))?;
    let release = opened.manifest().release.to_string();
    let digest = opened.manifest().digest.clone();
    let op = new_op_id();
    let mut report = FleetReport {
        stage: plan.target.stage_name.clone(),
        fleet_op: op.clone(),
        release: release.clone(),
        digest: Some(digest),
        outcome: "deployed",
        hosts: Vec::new(),
        waves: Vec::new(),
        duration_ms: 0,
    };
    let what = format!("deploy {release}");
    let opened = open(&plan.target, &op, &what, progress)
        .await
        .map_err(|error| (error, None))?;
    let result = deploy_held(
        plan,
        &opened.hosts,
        opened.balancer.as_ref(),
        &op,
        &release,
        &mut report,
        &interrupted,
        progress,
    )
    .await;
    opened.holds.release().await;
    report.duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => Ok(report),
        Err(error) => {
            report.outcome = match &error {
                FleetError::StageFailed { .. } => "stage-failed",
                // Nothing went back: a first deploy's switched hosts stay.
                FleetError::RolledBack {
                    rolled_back, kept, ..
                } if rolled_back.is_empty() && !kept.is_empty() => "failed",
                FleetError::RolledBack { .. } => "rolled-back",
                _ => "failed",
            };
            Err((error, Some(report)))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn deploy_held(
    plan: &DeployPlan,
    hosts: &[Host],
    balancer: Option<&balance::Connected>,
    op: &str,
    release: &str,
    report: &mut FleetReport,
    interrupted: &Arc<AtomicBool>,
    progress: &dyn Progress,
) -> Result<(), FleetError> {
    let stage = &plan.target.stage;
    // What each host runs now: where a rollback would take it back to.
    let before = live_of(hosts).await?;
    // Ship and stage: every host, in parallel, a bounded number at a time.
    let gate = Arc::new(Semaphore::new(stage.max_connections.max(1)));
    let staged = futures_util::future::join_all(hosts.iter().map(|host| {
        let gate = gate.clone();
        async move {
            let _permit = gate.acquire().await.expect("the gate is never closed");
            progress.host(&host.name, "ship", "sending what the host lacks");
            let shipped = ship::ship(host, &plan.artifact).await?;
            progress.host(
                &host.name,
                "ship",
                &format!(
                    "{} of {} files, {} bytes",
                    shipped.files_sent, shipped.files_total, shipped.bytes_sent
                ),
            );
            progress.host(&host.name, "stage", "unpack, verify, checks, tests");
            let artifact = shipped.remote_artifact.to_string_lossy().into_owned();
            let reason = match &plan.reason {
                Some(reason) => format!("{reason} (staged for stage `{}`)", plan.target.stage_name),
                None => format!("staged for stage `{}`", plan.target.stage_name),
            };
            let mut args = vec![
                "deploy",
                artifact.as_str(),
                "--only-stage",
                "--reason",
                reason.as_str(),
            ];
            if plan.allow_fewer_tests {
                args.push("--allow-fewer-tests");
            }
            let staged: serde_json::Value = host.run(&args).await?;
            progress.host(
                &host.name,
                "stage",
                staged["outcome"].as_str().unwrap_or("staged"),
            );
            Ok::<_, FleetError>(shipped)
        }
    }))
    .await;
    let mut failures = Vec::new();
    let mut shipped = Vec::new();
    for (host, result) in hosts.iter().zip(staged) {
        match result {
            Ok(done) => shipped.push(Some(done)),
            Err(error) => {
                progress.host(&host.name, "failed", &error.to_string());
                failures.push((host.name.clone(), error.to_string()));
                shipped.push(None);
            }
        }
    }
    let outcome_of = |index: usize, outcome: &'static str| HostOutcome {
        host: hosts[index].name.clone(),
        from: before[index].clone(),
        to: release.to_owned(),
        live: before[index].clone(),
        outcome,
        wave: 0,
        problem: None,
    };
    if let Some(gate) = plan.parity.as_ref().filter(|_| failures.is_empty()) {
        // Every host staged, so each recorded the runtime it met.
        failures = crate::parity::check(gate, hosts, release, progress).await;
    }
    if !failures.is_empty() {
        report.hosts = (0..hosts.len())
            .map(|index| HostReport {
                outcome: HostOutcome {
                    problem: failures
                        .iter()
                        .find(|(name, _)| *name == hosts[index].name)
                        .map(|(_, why)| why.clone()),
                    ..outcome_of(index, "not-switched")
                },
                shipped: shipped[index].clone(),
            })
            .collect();
        return Err(FleetError::StageFailed { failures });
    }
    if interrupted.load(Ordering::SeqCst) {
        return Err(FleetError::Interrupted);
    }
    // The stage, not each host, decides whether the open expansion may be
    // contracted (each host's deploy runs with `--no-contract`).
    if let Err(error) = crate::db::settle_before_waves(&plan.target, hosts, release, progress).await
    {
        report.hosts = (0..hosts.len())
            .map(|index| HostReport {
                outcome: HostOutcome {
                    problem: Some(error.to_string()),
                    ..outcome_of(index, "not-switched")
                },
                shipped: shipped[index].clone(),
            })
            .collect();
        return Err(error);
    }
    // Hosts already on the release stay out of the waves.
    let moving: Vec<usize> = (0..hosts.len())
        .filter(|&index| before[index].as_deref() != Some(release))
        .collect();
    let moves: Vec<Move> = moving
        .iter()
        .map(|&index| Move {
            host: hosts[index].clone(),
            from: before[index].clone(),
            to: release.to_owned(),
            how: How::Deploy {
                artifact: shipped[index]
                    .as_ref()
                    .expect("every host shipped")
                    .remote_artifact
                    .to_string_lossy()
                    .into_owned(),
            },
        })
        .collect();
    let waves_plan = stage.wave_plan_for(moves.len());
    report.waves = wave_names(&moves, &waves_plan);
    let waves = Waves::on(
        &plan.target,
        balancer,
        op,
        plan.reason.clone(),
        interrupted.clone(),
        progress,
    );
    waves.readmit(hosts).await;
    let (moved, result) = waves.run(moves, &waves_plan).await;
    report.hosts = (0..hosts.len())
        .map(|index| {
            let outcome = moved
                .iter()
                .find(|outcome| outcome.host == hosts[index].name)
                .cloned()
                .unwrap_or_else(|| {
                    if moving.contains(&index) {
                        outcome_of(index, "rolled-back")
                    } else {
                        HostOutcome {
                            live: Some(release.to_owned()),
                            ..outcome_of(index, "already-live")
                        }
                    }
                });
            HostReport {
                outcome,
                shipped: shipped[index].clone(),
            }
        })
        .collect();
    if moving.is_empty() {
        report.outcome = "already-live";
    }
    result
}

/// Each host's live release, in order.
pub(crate) async fn live_of(hosts: &[Host]) -> Result<Vec<Option<String>>, FleetError> {
    #[derive(serde::Deserialize)]
    struct Live {
        live: Option<String>,
    }
    let answers =
        futures_util::future::join_all(hosts.iter().map(|host| host.run::<Live>(&["status"])))
            .await;
    answers
        .into_iter()
        .map(|answer| answer.map(|status| status.live))
        .collect()
}
