//! `hoist status --stage NAME`: every host's state, asked in parallel.
//!
//! Each host answers with its own `hoist status --json` and `hoist fleet
//! version --json`, over one multiplexed connection. A host that cannot be
//! reached, or whose hoist cannot answer, is a row that says so: a status
//! reports the stage as it is, so one host down never fails the whole.
//! What the rows mean together (which release is the stage's, which host
//! drifts) is [`crate::drift`]'s job; this module only asks.

use crate::at_balancer::AtBalancer;
use crate::{connect, FleetError, HoistBuild, Host, Reach, RemoteError};
use hoist_error::Described;
use hoist_site::{JournalRecord, LockHolder};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long one host may take to answer, connecting included: a host that
/// accepts a connection and then hangs must not hold up the whole stage.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// The part of a host's `hoist status --json` a stage view shows.
///
/// Fields missing from the answer (an older hoist) read as empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HostState {
    /// The live release.
    pub live: Option<String>,
    /// Its manifest's version.
    pub live_version: Option<String>,
    /// Its manifest's git revision.
    pub live_revision: Option<String>,
    /// Where a plain `hoist rollback` would go.
    pub previous: Option<String>,
    /// When the live release went live.
    pub deployed_at: Option<jiff::Timestamp>,
    /// Who made it live.
    pub deployed_by: Option<String>,
    /// The live data version.
    pub data: Option<String>,
    /// Its label.
    pub data_label: Option<String>,
    /// The database schema, when the site has one.
    pub schema: Option<Schema>,
    /// Why the schema could not be read.
    pub schema_error: Option<String>,
    /// The agent, when one runs.
    pub agent: Option<Agent>,
    /// Maintenance by flag file, when its file is there.
    pub maintenance_flag: Option<serde_json::Value>,
    /// The holder of the host's deploy lock: an operation running, or one
    /// stuck holding it.
    pub locked_by: Option<LockHolder>,
    /// The fleet operation holding the host.
    pub fleet_locked_by: Option<LockHolder>,
    /// An interrupted operation awaiting `hoist recover`.
    pub pending: Option<JournalRecord>,
    /// The fleet operation that drained the host at the balancer and has
    /// not put it back in rotation.
    pub fleet_drained: Option<String>,
}

/// A host's schema, as its status summarises it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Schema {
    /// The database.
    pub database: String,
    /// The newest applied migration's name.
    pub name: Option<String>,
    /// Migrations of the live release not applied yet.
    pub pending: usize,
    /// A migration that failed halfway.
    pub dirty: Option<String>,
}

/// A host's agent, as its status reports it (the part a stage view shows;
/// the fleet crate does not link the agent).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Agent {
    /// Its pid.
    pub pid: u32,
    /// Its public listener.
    pub listen: String,
    /// What its live process serves.
    pub live: Option<Serving>,
    /// Requests in flight.
    pub in_flight: u64,
    /// Maintenance in force.
    pub maintenance: Option<serde_json::Value>,
    /// A pause in force.
    pub pause: Option<serde_json::Value>,
    /// A candidate beside the live release.
    pub candidate: Option<serde_json::Value>,
}

/// The release an agent's live process serves.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Serving {
    /// The release.
    pub release: String,
}

impl HostState {
    /// Whether the site is in maintenance (the agent's, or a flag file).
    pub fn maintenance(&self) -> bool {
        self.maintenance_flag.is_some()
            || self
                .agent
                .as_ref()
                .is_some_and(|agent| agent.maintenance.is_some())
    }
}

/// One host's answer.
#[derive(Debug, Clone, Serialize)]
pub struct HostAnswer {
    /// The host as the stage names it.
    pub host: String,
    /// Whether ssh reached it.
    pub reachable: bool,
    /// Why there is no state: ssh's words, or the host's hoist's error.
    pub error: Option<RemoteError>,
    /// What it runs (all empty when it did not answer).
    #[serde(flatten)]
    pub state: HostState,
    /// Its hoist (`null`: none at the stage's path, or no answer).
    pub hoist: Option<HoistBuild>,
    /// What the stage's balancer reports of it, asked only when a fleet
    /// operation left it marked as drained (`fleet_drained`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_balancer: Option<AtBalancer>,
}

/// Asks every host of `stage` for its state, at most `max_connections`
/// handshakes at a time; answers in the stage's order. A host a fleet
/// operation left marked as drained is also asked of the balancer.
pub async fn ask_all(stage: &hoist_config::Stage, reach: Arc<Reach>) -> Vec<HostAnswer> {
    let mut answers = ask_hosts(stage, reach.clone()).await;
    crate::at_balancer::ask_balancer(stage, &reach, &mut answers).await;
    answers
}

async fn ask_hosts(stage: &hoist_config::Stage, reach: Arc<Reach>) -> Vec<HostAnswer> {
    let gate = Arc::new(Semaphore::new(stage.max_connections.max(1)));
    let asks = stage.hosts.iter().map(|name| {
        let (gate, reach) = (gate.clone(), reach.clone());
        async move {
            match tokio::time::timeout(ANSWER_WITHIN, ask(name, reach, &gate)).await {
                Ok(answer) => answer,
                Err(_) => unanswered(
                    name,
                    false,
                    RemoteError {
                        kind: "ssh-timeout".to_owned(),
                        message: format!(
                            "`{name}` did not answer within {} s",
                            ANSWER_WITHIN.as_secs()
                        ),
                        hint: None,
                    },
                ),
            }
        }
    });
    futures_util::future::join_all(asks).await
}

async fn ask(name: &str, reach: Arc<Reach>, gate: &Semaphore) -> HostAnswer {
    let connected = {
        let _permit = gate.acquire().await.expect("the gate is never closed");
        Host::connect(name, reach).await
    };
    let host = match connected {
        Ok(host) => host,
        Err(error) => return unanswered(name, false, remote(&error)),
    };
    // Both over the one connection, at once.
    let (state, build) = tokio::join!(
        host.run::<HostState>(&["status"]),
        connect::host_build(&host)
    );
    match state {
        Ok(state) => HostAnswer {
            host: name.to_owned(),
            reachable: true,
            error: None,
            state,
            hoist: build.ok().flatten(),
            at_balancer: None,
        },
        Err(error) => {
            let reached = !matches!(
                error,
                FleetError::Connect { .. } | FleetError::Disconnected { .. }
            );
            HostAnswer {
                hoist: build.ok().flatten(),
                ..unanswered(name, reached, remote(&error))
            }
        }
    }
}

fn unanswered(name: &str, reachable: bool, error: RemoteError) -> HostAnswer {
    HostAnswer {
        host: name.to_owned(),
        reachable,
        error: Some(error),
        state: HostState::default(),
        hoist: None,
        at_balancer: None,
    }
}

/// A fleet error as a host row shows it: kind, message and hint.
fn remote(error: &FleetError) -> RemoteError {
    match error {
        // The host's own error, as it said it (its hint runs over ssh).
        FleetError::Remote { error: theirs, .. } => RemoteError {
            hint: error.hint(),
            ..theirs.clone()
        },
        _ => RemoteError {
            kind: error.kind().to_owned(),
            message: error.to_string(),
            hint: error.hint(),
        },
    }
}
