//! `hoist rollback --stage NAME [--to ID]`: the whole stage goes back
//! together, in waves behind the balancer, exactly as a deploy goes
//! forward; if a wave fails, the hosts it moved go forward again.

use crate::deploy::{live_of, FleetReport, HostReport};
use crate::open::{open, Target};
use crate::waves::{wave_names, HostOutcome, How, Move, Waves};
use crate::{FleetError, Progress};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Where the stage goes back to.
#[derive(Debug, Clone)]
pub struct RollbackPlan {
    /// The stage, and who rolls it back.
    pub target: Target,
    /// `--to ID`; else the release every host ran before its live one.
    pub to: Option<String>,
    /// `--reason`.
    pub reason: Option<String>,
}

#[derive(serde::Deserialize)]
struct Status {
    live: Option<String>,
    previous: Option<String>,
}

#[derive(serde::Deserialize)]
struct Release {
    id: String,
    state: String,
}

/// Rolls the stage back; the report comes with the error when hosts moved.
pub async fn rollback(
    plan: &RollbackPlan,
    interrupted: Arc<AtomicBool>,
    progress: &dyn Progress,
) -> Result<FleetReport, (FleetError, Option<FleetReport>)> {
    let started = std::time::Instant::now();
    let op = crate::new_op_id();
    let what = match &plan.to {
        Some(to) => format!("rollback to {to}"),
        None => "rollback".to_owned(),
    };
    let opened = open(&plan.target, &op, &what, progress)
        .await
        .map_err(|error| (error, None))?;
    let stage_name = &plan.target.stage_name;
    let refuse = |problem: String| FleetError::Drift {
        stage: stage_name.clone(),
        problem,
        fix: None,
    };
    let planned = async {
        let statuses = futures_util::future::join_all(
            opened.hosts.iter().map(|host| host.run::<Status>(&["status"])),
        )
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        let to = match &plan.to {
            Some(to) => to.clone(),
            None => {
                let previous: Vec<_> = statuses.iter().map(|status| status.previous.clone()).collect();
                let lives: Vec<_> = statuses.iter().map(|status| status.live.clone()).collect();
                if lives.iter().any(|live| *live != lives[0]) || previous.iter().any(|p| *p != previous[0]) {
                    return Err(FleetError::Drift {
                        stage: stage_name.clone(),
                        problem: "its hosts do not run the same release with the same one before it, so \"the previous release\" means different things; name one (`hoist status --stage` shows each host's)".to_owned(),
                        fix: Some(format!("rollback --stage {stage_name} --to ID")),
                    });
                }
                previous[0].clone().ok_or_else(|| refuse("its hosts have no earlier release to go back to".to_owned()))?
            }
        };
        // Every host must have it on disk, and not as a failed release.
        let lists = futures_util::future::join_all(
            opened.hosts.iter().map(|host| host.run::<Vec<Release>>(&["releases"])),
        )
        .await;
        for (host, list) in opened.hosts.iter().zip(lists) {
            match list?.into_iter().find(|release| release.id == to) {
                Some(release) if release.state != "failed" => {}
                Some(_) => return Err(refuse(format!("`{to}` failed on `{}`", host.name))),
                None => return Err(refuse(format!("`{}` does not have `{to}` on disk", host.name))),
            }
        }
        Ok((to, statuses))
    }
    .await;
    let (to, statuses) = match planned {
        Ok(planned) => planned,
        Err(error) => {
            opened.holds.release().await;
            return Err((error, None));
        }
    };
    let before: Vec<Option<String>> = statuses.into_iter().map(|status| status.live).collect();
    let moving: Vec<usize> = (0..opened.hosts.len())
        .filter(|&index| before[index].as_deref() != Some(to.as_str()))
        .collect();
    let moves: Vec<Move> = moving
        .iter()
        .map(|&index| Move {
            host: opened.hosts[index].clone(),
            from: before[index].clone(),
            to: to.clone(),
            how: How::Rollback,
        })
        .collect();
    let stage = &plan.target.stage;
    let waves_plan = stage.wave_plan_for(moves.len());
    let mut report = FleetReport {
        stage: stage_name.clone(),
        fleet_op: op.clone(),
        release: to.clone(),
        digest: None,
        outcome: if moves.is_empty() {
            "already-live"
        } else {
            "rolled-back-to"
        },
        hosts: Vec::new(),
        waves: wave_names(&moves, &waves_plan),
        duration_ms: 0,
    };
    let waves = Waves::on(
        &plan.target,
        opened.balancer.as_ref(),
        &op,
        plan.reason.clone(),
        interrupted,
        progress,
    );
    waves.readmit(&opened.hosts).await;
    let (moved, result) = waves.run(moves, &waves_plan).await;
    let after = live_of(&opened.hosts)
        .await
        .unwrap_or_else(|_| before.clone());
    opened.holds.release().await;
    report.hosts = opened
        .hosts
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let outcome = moved.iter().find(|o| o.host == host.name).cloned();
            HostReport {
                outcome: outcome.unwrap_or_else(|| HostOutcome {
                    host: host.name.clone(),
                    from: before[index].clone(),
                    to: to.clone(),
                    live: after[index].clone(),
                    outcome: if moving.contains(&index) {
                        "rolled-back"
                    } else {
                        "already-live"
                    },
                    wave: 0,
                    problem: None,
                }),
                shipped: None,
            }
        })
        .collect();
    report.duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => Ok(report),
        Err(error) => {
            report.outcome = "rolled-back";
            Err((error, Some(report)))
        }
    }
}
