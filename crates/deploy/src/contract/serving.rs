//! Who serves on this host, and on which side of the open expansion: what
//! `hoist db complete` and `hoist db abort` refuse on.
//!
//! With an agent, every process it runs counts: the live release, warm
//! ones kept for an instant rollback, a held candidate. Without one
//! (external mode) the release `current` names is what the app's own
//! restart runs. A release is on the new side when it joined the
//! expansion (the engine lists it; its view schema exists); on the old
//! side otherwise, whatever its migrations' numbers.

use crate::{Context, DeployError};
use hoist_db::expand::OpenExpansion;
use serde::{Deserialize, Serialize};

/// How a release serves on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The agent's live process.
    Live,
    /// Kept warm by the agent for an instant rollback, until `until`.
    Warm,
    /// A held candidate (`deploy --hold`, a canary).
    Candidate,
    /// `current`, run by the app's own restart command (no agent).
    Current,
}

impl Role {
    /// As messages say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Live => "live",
            Role::Warm => "warm",
            Role::Candidate => "held candidate",
            Role::Current => "current",
        }
    }
}

/// A release running on this host, as the agent (or `current`) says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    /// The release.
    pub release: String,
    /// How it serves.
    pub role: Role,
    /// For a warm release: when the agent stops it (its rollback window ends).
    pub until: Option<jiff::Timestamp>,
}

/// Which shape a release reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The base tables as they were (the contract drops what it reads).
    Old,
    /// Its view schema (the abort drops what it reads).
    New,
}

/// A running release and its side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serving {
    /// What runs.
    #[serde(flatten)]
    pub running: Running,
    /// Its side of the open expansion.
    pub side: Side,
}

impl Serving {
    /// "`R1` (warm until 10:20:00Z)", for messages.
    pub fn describe(&self) -> String {
        let running = &self.running;
        match running.until {
            Some(until) => format!(
                "`{}` ({} until {})",
                running.release,
                running.role.as_str(),
                until.strftime("%Y-%m-%d %H:%M:%SZ")
            ),
            None => format!("`{}` ({})", running.release, running.role.as_str()),
        }
    }
}

/// What runs on this host: the agent's processes, else `current`.
pub fn running(context: &Context) -> Result<Vec<Running>, DeployError> {
    if let Some(agent) = &context.agent {
        return agent.running().map_err(|problem| {
            DeployError::Contract(super::ContractError::AgentUnanswered { problem })
        });
    }
    Ok(context
        .site
        .live()?
        .into_iter()
        .map(|release| Running {
            release,
            role: Role::Current,
            until: None,
        })
        .collect())
}

/// Each running release with its side of `open`.
pub fn sides(open: &OpenExpansion, running: Vec<Running>) -> Vec<Serving> {
    running
        .into_iter()
        .map(|running| {
            let side = if on_new_side(open, &running.release) {
                Side::New
            } else {
                Side::Old
            };
            Serving { running, side }
        })
        .collect()
}

/// Whether `release` is on `open`'s new side: it joined the expansion
/// (the engine's `new_releases`; it has a view schema). The engine's list
/// is the one truth: a release whose migrations merely include the
/// expansion's number (another `0002`, or one that never joined) runs on
/// the base tables' old shape, which a contract drops.
fn on_new_side(open: &OpenExpansion, release: &str) -> bool {
    open.new_releases.iter().any(|joined| joined == release)
}
