//! `hoist status --stages`: every stage side by side, and what one runs
//! that another does not (staging ahead of production).
//!
//! Each stage's release is the one [`crate::judge`] chose (most hosts run
//! it). Two stages whose releases differ make one [`Difference`], turned
//! so that `ahead` runs the newer build (release ids start with their
//! build time), each side with its version and git revision as its
//! manifest says them.

use crate::{Runs, StageStatus};
use serde::Serialize;

/// One stage in the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct StageLine {
    /// The stage.
    pub stage: String,
    /// Its release (`null`: most hosts run none).
    pub release: Option<String>,
    /// Whether its hosts differ in what they run.
    pub mixed: bool,
    /// Its release's version.
    pub version: Option<String>,
    /// Its release's git revision.
    pub revision: Option<String>,
    /// Every release live on one of its hosts, the most hosts first.
    pub releases: Vec<Runs>,
    /// How many hosts it has.
    pub hosts: usize,
    /// Hosts that could not be asked.
    pub unreachable: Vec<String>,
    /// Hosts with any drift (`hoist status --stage NAME` says which).
    pub drifting: Vec<String>,
}

/// One side of a [`Difference`].
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The stage.
    pub stage: String,
    /// Its release.
    pub release: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// Its git revision.
    pub revision: Option<String>,
}

/// Two stages running different releases.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The stage running the newer build.
    pub ahead: Side,
    /// The other.
    pub behind: Side,
}

/// `hoist status --stages --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StagesView {
    /// Every stage, by name.
    pub stages: Vec<StageLine>,
    /// Every pair of stages whose releases differ.
    pub differences: Vec<Difference>,
    /// How long asking took.
    pub duration_ms: u64,
}

/// Lines up `statuses` and finds where they differ.
pub fn compare(statuses: &[StageStatus], duration_ms: u64) -> StagesView {
    let stages: Vec<StageLine> = statuses.iter().map(line).collect();
    let mut differences = Vec::new();
    for (index, a) in stages.iter().enumerate() {
        for b in &stages[index + 1..] {
            if a.release == b.release {
                continue;
            }
            // `None` sorts first: a stage running nothing is behind.
            let (ahead, behind) = if a.release > b.release {
                (a, b)
            } else {
                (b, a)
            };
            differences.push(Difference {
                ahead: side(ahead),
                behind: side(behind),
            });
        }
    }
    StagesView {
        stages,
        differences,
        duration_ms,
    }
}

fn line(status: &StageStatus) -> StageLine {
    let runs = status
        .releases
        .iter()
        .find(|runs| Some(&runs.release) == status.release.as_ref());
    StageLine {
        stage: status.stage.clone(),
        release: status.release.clone(),
        mixed: status.mixed,
        version: runs.and_then(|runs| runs.version.clone()),
        revision: runs.and_then(|runs| runs.revision.clone()),
        releases: status.releases.clone(),
        hosts: status.hosts.len(),
        unreachable: status
            .hosts
            .iter()
            .filter(|host| !host.answer.reachable)
            .map(|host| host.answer.host.clone())
            .collect(),
        drifting: status.drifting.clone(),
    }
}

fn side(line: &StageLine) -> Side {
    Side {
        stage: line.stage.clone(),
        release: line.release.clone(),
        version: line.version.clone(),
        revision: line.revision.clone(),
    }
}
