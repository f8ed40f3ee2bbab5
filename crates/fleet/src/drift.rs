//! What a stage's host answers mean together: the stage's release, and
//! each host's drift from it.
//!
//! The stage's release is the one most hosts run (a tie goes to the newest
//! id: ids start with their build time). Likewise its data version. A host
//! drifts when it cannot be reached or cannot answer, runs another release
//! or data version, holds a lock, has an interrupted operation, or runs a
//! hoist other than this machine's.
//!
//! ```
//! use hoist_fleet::{judge, HoistBuild, HostAnswer, HostState};
//! let ours = HoistBuild { version: "0.1.0".into(), build: "b".into(), arch: "x86_64".into() };
//! let host = |name: &str, live: &str| HostAnswer {
//!     host: name.into(),
//!     reachable: true,
//!     error: None,
//!     state: HostState { live: Some(live.into()), ..HostState::default() },
//!     hoist: Some(ours.clone()),
//!     at_balancer: None,
//! };
//! let answers = vec![host("web1", "R2"), host("web2", "R1"), host("web3", "R2")];
//! let status = judge("production", answers, &ours, 0);
//! assert_eq!(status.release.as_deref(), Some("R2"));
//! assert_eq!(status.drifting, ["web2"]);
//! ```

use crate::at_balancer::{self, AtBalancer};
use crate::{HoistBuild, HostAnswer};
use hoist_balancer::ServerStatus;
use hoist_site::LockHolder;
use serde::Serialize;
use std::collections::BTreeMap;

/// One way a host differs from what the stage should be.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Drift {
    /// ssh could not reach it.
    Unreachable {
        /// ssh's words.
        problem: String,
    },
    /// It was reached, but its hoist could not say its state.
    NoAnswer {
        /// What it said.
        problem: String,
    },
    /// It runs another release than the stage's (or none).
    Release {
        /// What it runs.
        live: Option<String>,
        /// The stage's release.
        stage: Option<String>,
    },
    /// Its live data version is not the stage's.
    Data {
        /// Its data version.
        live: Option<String>,
        /// The stage's.
        stage: Option<String>,
    },
    /// Its deploy lock is held: an operation runs there, or one left it held.
    Locked {
        /// Who holds it.
        holder: LockHolder,
    },
    /// Its fleet lock is held: a fleet operation runs, or one left it held.
    FleetLocked {
        /// Who holds it.
        holder: LockHolder,
    },
    /// An operation stopped halfway and awaits `hoist recover`.
    Interrupted {
        /// What it was (`deploy`, `rollback`, ...).
        op: String,
        /// Its release.
        release: String,
        /// The step it stopped in.
        step: String,
    },
    /// A fleet operation marked it as drained at the balancer and never
    /// cleared the mark (it died mid-switch). The mark is written before
    /// the drain, so it means "may have been drained": what the balancer
    /// reports, when it was asked, says whether it gets traffic.
    Drained {
        /// That fleet operation.
        fleet_op: String,
        /// The stage, for the command that readmits it.
        stage: String,
        /// What the balancer reports of it (`null`: the stage has none).
        at_balancer: Option<AtBalancer>,
    },
    /// It runs another hoist than this machine (or none).
    Hoist {
        /// Its hoist.
        theirs: Option<HoistBuild>,
        /// This machine's.
        ours: HoistBuild,
    },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let or_none = |id: &Option<String>| id.clone().unwrap_or_else(|| "nothing".to_owned());
        match self {
            Drift::Unreachable { problem } => write!(f, "unreachable: {problem}"),
            Drift::NoAnswer { problem } => write!(f, "no status: {problem}"),
            Drift::Release { live, stage } => write!(
                f,
                "runs {}, the stage runs {}",
                or_none(live),
                or_none(stage)
            ),
            Drift::Data { live, stage } => write!(
                f,
                "data {}, the stage has {}",
                or_none(live),
                or_none(stage)
            ),
            Drift::Locked { holder } => write!(
                f,
                "deploy lock held by {holder}; if nothing runs there, `hoist unlock --reason ...` on it"
            ),
            Drift::FleetLocked { holder } => write!(
                f,
                "fleet lock held by {holder}; it goes when that operation ends"
            ),
            Drift::Interrupted { op, release, step } => write!(
                f,
                "{op} of `{release}` stopped during `{step}`; `hoist recover` on it"
            ),
            Drift::Drained {
                fleet_op,
                stage,
                at_balancer,
            } => drained(f, fleet_op, stage, at_balancer.as_ref()),
            Drift::Hoist { theirs, ours } => match theirs {
                Some(theirs) => write!(f, "runs {theirs}, this machine {ours}"),
                None => write!(f, "has no hoist at the stage's path"),
            },
        }
    }
}

/// A host left marked as drained, as the balancer reports it, and the way
/// out: `hoist restart --stage` readmits a healthy host (and clears the
/// mark) without changing its release.
fn drained(
    f: &mut std::fmt::Formatter<'_>,
    fleet_op: &str,
    stage: &str,
    at_balancer: Option<&AtBalancer>,
) -> std::fmt::Result {
    let readmit = format!(
        "`hoist restart --stage {stage}` readmits it once healthy, keeping its release (as does the next `hoist deploy --stage {stage}` or `hoist rollback --stage {stage}`)"
    );
    match at_balancer.and_then(|view| view.status.as_ref()) {
        Some(ServerStatus::Up) => write!(
            f,
            "in rotation: the balancer reports it UP; fleet operation `{fleet_op}` stopped while switching it and left it marked as drained; `hoist restart --stage {stage}` clears the mark"
        ),
        Some(status @ (ServerStatus::Drain | ServerStatus::Maint | ServerStatus::Down)) => {
            let why = if *status == ServerStatus::Down {
                " (its health check there fails)"
            } else {
                ""
            };
            write!(
                f,
                "out of rotation: the balancer reports it {}{why}; fleet operation `{fleet_op}` drained it and stopped before putting it back; {readmit}",
                at_balancer::word(status)
            )
        }
        status => {
            let said = match (status, at_balancer.and_then(|view| view.problem.as_ref())) {
                (Some(status), _) => format!(" (the balancer reports it {})", at_balancer::word(status)),
                (None, Some(problem)) => format!(" (the balancer could not say: {problem})"),
                (None, None) => String::new(),
            };
            write!(
                f,
                "may have been drained at the balancer by fleet operation `{fleet_op}`, which stopped before putting it back{said}; {readmit}"
            )
        }
    }
}

/// A host's answer and its drift.
#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    /// What it said.
    #[serde(flatten)]
    pub answer: HostAnswer,
    /// How it differs from the stage (empty: it does not).
    pub drift: Vec<Drift>,
}

/// One release a stage runs, and where.
#[derive(Debug, Clone, Serialize)]
pub struct Runs {
    /// The release id.
    pub release: String,
    /// Its manifest's version.
    pub version: Option<String>,
    /// Its manifest's git revision.
    pub revision: Option<String>,
    /// The hosts running it.
    pub hosts: Vec<String>,
}

/// `hoist status --stage NAME --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    /// The stage.
    pub stage: String,
    /// The stage's release: the one most hosts run (`null`: most run none).
    pub release: Option<String>,
    /// Whether the hosts that answered differ in what they run (a host
    /// with nothing live counts as running nothing).
    pub mixed: bool,
    /// Every release live on a host, the most hosts first.
    pub releases: Vec<Runs>,
    /// The stage's data version, chosen the same way.
    pub data: Option<String>,
    /// This machine's hoist, which every host should run.
    pub hoist: HoistBuild,
    /// Each host, in the stage's order.
    pub hosts: Vec<HostStatus>,
    /// The hosts with any drift.
    pub drifting: Vec<String>,
    /// How long asking took.
    pub duration_ms: u64,
}

/// Judges `answers` against each other and against `ours`.
pub fn judge(
    stage: &str,
    answers: Vec<HostAnswer>,
    ours: &HoistBuild,
    duration_ms: u64,
) -> StageStatus {
    let answered: Vec<&HostAnswer> = answers.iter().filter(|a| a.error.is_none()).collect();
    let release = most_common(answered.iter().map(|a| a.state.live.clone()));
    let data = most_common(answered.iter().map(|a| a.state.data.clone()));
    let releases = releases(&answered);
    let mixed = answered
        .iter()
        .any(|answer| answer.state.live != answered[0].state.live);
    let hosts: Vec<HostStatus> = answers
        .into_iter()
        .map(|answer| HostStatus {
            drift: drift_of(stage, &answer, &release, &data, ours),
            answer,
        })
        .collect();
    StageStatus {
        stage: stage.to_owned(),
        mixed,
        release,
        releases,
        data,
        hoist: ours.clone(),
        drifting: hosts
            .iter()
            .filter(|host| !host.drift.is_empty())
            .map(|host| host.answer.host.clone())
            .collect(),
        hosts,
        duration_ms,
    }
}

fn drift_of(
    stage: &str,
    answer: &HostAnswer,
    release: &Option<String>,
    data: &Option<String>,
    ours: &HoistBuild,
) -> Vec<Drift> {
    if let Some(error) = &answer.error {
        let problem = error.message.clone();
        return vec![if answer.reachable {
            Drift::NoAnswer { problem }
        } else {
            Drift::Unreachable { problem }
        }];
    }
    let state = &answer.state;
    let mut drift = Vec::new();
    if state.live != *release {
        drift.push(Drift::Release {
            live: state.live.clone(),
            stage: release.clone(),
        });
    }
    if state.data != *data {
        drift.push(Drift::Data {
            live: state.data.clone(),
            stage: data.clone(),
        });
    }
    if let Some(holder) = &state.locked_by {
        drift.push(Drift::Locked {
            holder: holder.clone(),
        });
    }
    if let Some(holder) = &state.fleet_locked_by {
        drift.push(Drift::FleetLocked {
            holder: holder.clone(),
        });
    }
    if let Some(pending) = &state.pending {
        drift.push(Drift::Interrupted {
            op: pending.op.to_string(),
            release: pending.release.clone(),
            step: pending.step.to_string(),
        });
    }
    if let Some(fleet_op) = &state.fleet_drained {
        drift.push(Drift::Drained {
            fleet_op: fleet_op.clone(),
            stage: stage.to_owned(),
            at_balancer: answer.at_balancer.clone(),
        });
    }
    if answer.hoist.as_ref() != Some(ours) {
        drift.push(Drift::Hoist {
            theirs: answer.hoist.clone(),
            ours: ours.clone(),
        });
    }
    drift
}

/// The value most often seen; a tie goes to the greatest (the newest id,
/// and any over none).
fn most_common(values: impl Iterator<Item = Option<String>>) -> Option<String> {
    let mut counts: BTreeMap<Option<String>, usize> = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    // `max_by_key` keeps the last of equals: the greatest key, as sorted.
    counts
        .into_iter()
        .max_by_key(|(_, count)| *count)
        .and_then(|(value, _)| value)
}

fn releases(answered: &[&HostAnswer]) -> Vec<Runs> {
    let mut runs: Vec<Runs> = Vec::new();
    for answer in answered {
        let Some(live) = &answer.state.live else {
            continue;
        };
        match runs.iter_mut().find(|runs| runs.release == *live) {
            Some(runs) => runs.hosts.push(answer.host.clone()),
            None => runs.push(Runs {
                release: live.clone(),
                version: answer.state.live_version.clone(),
                revision: answer.state.live_revision.clone(),
                hosts: vec![answer.host.clone()],
            }),
        }
    }
    // The most hosts first; then the newest.
    runs.sort_by(|a, b| {
        b.hosts
            .len()
            .cmp(&a.hosts.len())
            .then_with(|| b.release.cmp(&a.release))
    });
    runs
}

#[cfg(test)]
mod tests {
    use super::most_common;

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn the_stage_runs_what_most_hosts_run_and_a_tie_goes_to_the_newest() {
        let most = most_common([some("R1"), some("R2"), some("R1")].into_iter());
        assert_eq!(most, some("R1"));
        let tie = most_common([some("R1"), some("R2")].into_iter());
        assert_eq!(tie, some("R2"));
        let over_none = most_common([None, some("R1")].into_iter());
        assert_eq!(over_none, some("R1"));
        assert_eq!(most_common(std::iter::empty()), None);
    }
}
