//! What `hoist status --json` shows under `"agent"`.

use hoist_proxy::BackendStats;
use serde::{Deserialize, Serialize};

/// The agent's view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentStatus {
    /// The agent's pid.
    pub pid: u32,
    /// The public listener.
    pub listen: String,
    /// The live release's process.
    pub live: Option<ProcessInfo>,
    /// Releases kept warm for instant rollback.
    pub warm: Vec<ProcessInfo>,
    /// Requests in flight across all releases.
    pub in_flight: u64,
    /// Per-release counters since the agent started.
    pub releases: Vec<serde_json::Value>,
    /// The last time the agent rolled back on its own, and why; or why it
    /// did not (the bad release still serves) and what to run.
    pub last_auto_rollback: Option<String>,
    /// Maintenance in force, if any.
    pub maintenance: Option<hoist_proxy::Maintenance>,
    /// `command` (`hoist maint on`) or `flag-file` (`<root>/maintenance` exists).
    pub maintenance_source: Option<String>,
    /// Every source asking for maintenance now (`command`, `flag-file`,
    /// `schedule`), the one in force first: the others take over when it ends.
    #[serde(default)]
    pub maintenance_sources: Vec<String>,
    /// While paused: how long until held requests get 503, and how many are held.
    pub pause: Option<PauseInfo>,
    /// A candidate getting test traffic or a canary share.
    pub candidate: Option<Candidate>,
    /// Static backends (`[[proxy.backend]]`) with health, drain state and counts.
    #[serde(default)]
    pub backends: Vec<hoist_proxy::MemberInfo>,
}

/// A candidate held beside the live release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The release.
    pub release: String,
    /// Share of clients sent to it (0: test traffic only).
    pub percent: u8,
    /// Networks whose requests always reach it.
    pub test_from: Vec<String>,
}

/// A pause in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PauseInfo {
    /// Milliseconds until `--max` runs out.
    pub remaining_ms: u64,
    /// Requests waiting right now.
    pub held: usize,
}

/// What `hoist pause` reports once in-flight requests are done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Paused {
    /// How long the in-flight requests took to finish, ms.
    pub drained_ms: u64,
    /// Requests still in flight when the drain wait gave up (0 is the goal).
    pub in_flight: u64,
}

/// One running release.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// The release.
    pub release: String,
    /// Its port on loopback.
    pub port: u16,
    /// Its pid.
    pub pid: u32,
    /// The command it runs: its release's own `[process] command`, or the site's.
    #[serde(default)]
    pub command: String,
    /// For warm releases: when they will be stopped.
    pub until: Option<jiff::Timestamp>,
}

pub(crate) fn stats_json(stats: &BackendStats) -> serde_json::Value {
    serde_json::to_value(stats).unwrap_or_default()
}
