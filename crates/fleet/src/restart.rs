//! `hoist restart --stage NAME`: the live release started afresh on every
//! host, in waves behind the balancer, with no failed request; for a
//! runtime upgraded under the app (seed 000's "Update Mojolicious on the
//! fly").
//!
//! ```text
//! open (connect, version, lock) ─ every host runs the same release ─┬─ wave 1: drain ─ restart ─ health ─ ready ─ watch
//!                                                                   └─ ...; a failure stops: nothing to roll back
//! ```
//!
//! Each host restarts with its own `hoist restart` (a blue/green restart
//! with an agent, else `[deploy] restart` and `health`), recorded in its
//! ledger with the fleet operation's id. The waves, drain, health and
//! ready are the deploy's ([`crate::waves`]).

use crate::deploy::{live_of, FleetReport, HostReport};
use crate::open::{open, Target};
use crate::waves::{wave_names, How, Move, Waves};
use crate::{FleetError, Progress};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A stage restart.
#[derive(Debug, Clone)]
pub struct RestartPlan {
    /// The stage, and who restarts it.
    pub target: Target,
    /// `--reason`.
    pub reason: Option<String>,
}

/// Restarts every host of the stage; the report comes with the error when
/// hosts were reached.
pub async fn restart(
    plan: &RestartPlan,
    interrupted: Arc<AtomicBool>,
    progress: &dyn Progress,
) -> Result<FleetReport, (FleetError, Option<FleetReport>)> {
    let started = std::time::Instant::now();
    let op = crate::new_op_id();
    let opened = open(&plan.target, &op, "restart", progress)
        .await
        .map_err(|error| (error, None))?;
    let stage_name = &plan.target.stage_name;
    let stage = &plan.target.stage;
    let waves = Waves::on(
        &plan.target,
        opened.balancer.as_ref(),
        &op,
        plan.reason.clone(),
        interrupted,
        progress,
    );
    // First, whatever the stage runs: `hoist status --stage` names this
    // command as the way to readmit a host a killed fleet operation left
    // drained, even on a stage it left running two releases.
    waves.readmit(&opened.hosts).await;
    let lives = match live_of(&opened.hosts).await {
        Ok(lives) => lives,
        Err(error) => {
            opened.holds.release().await;
            return Err((error, None));
        }
    };
    // A restart keeps what runs; a stage that runs different releases (or
    // nothing) on some host is a deploy's to settle, not a restart's.
    let release = match lives.first().cloned().flatten() {
        Some(first)
            if lives
                .iter()
                .all(|live| live.as_deref() == Some(first.as_str())) =>
        {
            first
        }
        _ => {
            opened.holds.release().await;
            let error = FleetError::Drift {
                stage: stage_name.clone(),
                problem: "its hosts do not all run one live release; a restart keeps what runs, so settle the stage first (`hoist status --stage` shows each host's)".to_owned(),
                fix: Some(format!("status --stage {stage_name}")),
            };
            return Err((error, None));
        }
    };
    let moves: Vec<Move> = opened
        .hosts
        .iter()
        .map(|host| Move {
            host: host.clone(),
            from: Some(release.clone()),
            to: release.clone(),
            how: How::Restart,
        })
        .collect();
    let waves_plan = stage.wave_plan_for(moves.len());
    let mut report = FleetReport {
        stage: stage_name.clone(),
        fleet_op: op.clone(),
        release: release.clone(),
        digest: None,
        outcome: "restarted",
        hosts: Vec::new(),
        waves: wave_names(&moves, &waves_plan),
        duration_ms: 0,
    };
    let (outcomes, result) = waves.run(moves, &waves_plan).await;
    opened.holds.release().await;
    report.hosts = outcomes
        .into_iter()
        .map(|outcome| HostReport {
            outcome,
            shipped: None,
        })
        .collect();
    report.duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => Ok(report),
        Err(error) => {
            report.outcome = "failed";
            Err((error, Some(report)))
        }
    }
}
