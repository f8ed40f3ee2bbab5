//! The view model: everything a page shows, already decided, so rendering
//! is a pure function of it and the same page can be built on one machine
//! (`hoist status --html`) and served from another process (the agent).
//!
//! Every type serialises (`hoist status --html - --json` and tests read it)
//! and deserialises (an agent may be handed a page built elsewhere).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One site's page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SitePage {
    /// What made the page (`hoist 0.1.0`), for `<meta name="generator">`.
    pub generator: String,
    /// When it was built: ages on the page are counted from here, so a
    /// saved page stays true about the moment it describes.
    pub generated_at: Timestamp,
    /// The site root.
    pub root: String,
    /// The machine the site is on.
    pub host: String,
    /// Live first, then candidate, warm and previous.
    pub releases: Vec<ReleaseView>,
    /// The live data version (`data/current`).
    pub data: Option<DataView>,
    /// The database schema, when it was read.
    pub schema: SchemaLine,
    /// Maintenance in force.
    pub maintenance: Option<MaintenanceView>,
    /// The agent serving the site, when one runs.
    pub agent: Option<AgentLine>,
    /// Per-release counters since the agent started (empty without one).
    pub traffic: Vec<Traffic>,
    /// The newest operations from the ledger, newest first.
    pub operations: Vec<Operation>,
    /// What needs a person: an interrupted operation, a held lock, a host
    /// left drained, an unreadable ledger. Each says the command out of it.
    pub problems: Vec<String>,
}

/// Why a release is on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Serving users.
    Live,
    /// Held beside the live release for test traffic or a canary share.
    Candidate,
    /// Kept running by the agent for an instant rollback.
    Warm,
    /// Where a plain `hoist rollback` goes (not running).
    Previous,
}

impl Role {
    /// The word the page and its `data-role` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Live => "live",
            Role::Candidate => "candidate",
            Role::Warm => "warm",
            Role::Previous => "previous",
        }
    }
}

/// A release and what the ledger knows about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseView {
    /// Its id.
    pub id: String,
    /// Why it is on the page.
    pub role: Role,
    /// Its manifest's version.
    pub version: Option<String>,
    /// Its manifest's git revision.
    pub revision: Option<String>,
    /// When it was built.
    pub built_at: Option<Timestamp>,
    /// When it last went live (its age on the page).
    pub deployed_at: Option<Timestamp>,
    /// Who made it live, or held it.
    pub deployed_by: Option<String>,
    /// Why (`--reason` of that operation).
    pub reason: Option<String>,
    /// A warm release: when the agent stops it.
    pub until: Option<Timestamp>,
    /// A candidate: its share of clients (0: test traffic only).
    pub percent: Option<u8>,
}

/// The live data version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataView {
    /// Its id.
    pub version: String,
    /// Its `--label`.
    pub label: Option<String>,
}

/// What the page says about the schema.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum SchemaLine {
    /// The site has no `[database]`, or the caller did not read it.
    #[default]
    NotRead,
    /// Read from the database.
    Read {
        /// The database, credentials removed.
        database: String,
        /// The newest applied migration (`None`: none applied).
        name: Option<String>,
        /// Migrations of the live release not applied yet.
        pending: usize,
        /// A migration that failed halfway.
        dirty: Option<String>,
    },
    /// It could not be read, and why.
    Unreadable {
        /// The error.
        problem: String,
    },
}

/// Maintenance in force.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaintenanceView {
    /// What its page says to users.
    pub message: String,
    /// When the site should be back (shown in GMT, as HTTP dates are).
    pub until: Option<Timestamp>,
    /// `command`, `flag-file` or `schedule`.
    pub source: String,
}

/// The agent, as the page names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentLine {
    /// Its pid.
    pub pid: u32,
    /// Its public listener.
    pub listen: String,
    /// Requests in flight across all releases.
    pub in_flight: u64,
}

/// One release's counters since the agent started. Field names are the
/// agent's own (`hoist status --json`'s `agent.releases`), so its JSON
/// deserialises into this as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Traffic {
    /// The release.
    pub release: String,
    /// Requests answered.
    pub requests: u64,
    /// Of those, 5xx answers.
    pub errors_5xx: u64,
    /// Requests open now.
    pub in_flight: u64,
    /// Median time to response headers, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
}

/// One ledger row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    /// `deploy`, `rollback`, `maint-on`, ...
    pub op: String,
    /// `ok`, `failed`, `noop`, ...
    pub outcome: String,
    /// Live before.
    pub from: Option<String>,
    /// Live after (when `ok`).
    pub to: Option<String>,
    /// Who.
    pub user: String,
    /// Why.
    pub reason: Option<String>,
    /// What went wrong, when it did.
    pub failure: Option<String>,
    /// When it ended.
    pub finished_at: Timestamp,
    /// How long it took.
    pub duration_ms: u64,
}

/// A stage's page: one row per host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagePage {
    /// What made the page.
    pub generator: String,
    /// When it was built.
    pub generated_at: Timestamp,
    /// The stage.
    pub stage: String,
    /// The stage's release: the one most hosts run.
    pub release: Option<String>,
    /// The stage's data version, chosen the same way.
    pub data: Option<String>,
    /// Each host, in the stage's order.
    pub hosts: Vec<HostRow>,
}

/// One host of a stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostRow {
    /// The host as the stage names it.
    pub host: String,
    /// Whether it answered.
    pub answered: bool,
    /// Its live release.
    pub live: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// When it went live.
    pub deployed_at: Option<Timestamp>,
    /// Who made it live.
    pub deployed_by: Option<String>,
    /// Where a rollback goes.
    pub previous: Option<String>,
    /// Its data version.
    pub data: Option<String>,
    /// Its schema: the newest migration, `+N pending`, `DIRTY`.
    pub schema: Option<String>,
    /// Its agent (`pid 12, 3 in flight`), when one runs.
    pub agent: Option<String>,
    /// Whether it is in maintenance.
    pub maintenance: bool,
    /// How it differs from the stage: `(kind, sentence)`; empty when it
    /// does not. The kind (`release`, `interrupted`, `drained`, ...) goes
    /// into `data-drift` for scripts and tests.
    pub drift: Vec<(String, String)>,
}
