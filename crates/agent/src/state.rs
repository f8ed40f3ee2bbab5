//! What the agent persists so a restart (or `kill -9`) loses nothing.

use crate::AgentError;
use hoist_site::{durable, Site};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `<root>/agent-state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    /// The release the route points at.
    pub(crate) live: Option<String>,
    /// Releases kept running for instant rollback, and until when.
    pub(crate) warm: Vec<Warm>,
    /// Process groups this agent started, so a successor can stop orphans.
    pub(crate) pids: Vec<u32>,
    /// Maintenance switched on by `hoist maint on` (the flag file is separate).
    #[serde(default)]
    pub(crate) maintenance: Option<hoist_proxy::Maintenance>,
    /// While paused: when the pause's `--max` runs out.
    #[serde(default)]
    pub(crate) paused_until: Option<jiff::Timestamp>,
    /// A candidate held beside the live release (`deploy --hold`, canary).
    #[serde(default)]
    pub(crate) held: Option<crate::status::Candidate>,
}

/// A warm release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Warm {
    pub(crate) release: String,
    pub(crate) until: jiff::Timestamp,
}

pub(crate) fn path(site: &Site) -> PathBuf {
    site.root().join("agent-state.json")
}

/// Loads the state; a missing file is a fresh start, an unreadable one an error naming it.
pub(crate) fn load(site: &Site) -> Result<State, AgentError> {
    let path = path(site);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
            AgentError::Site(hoist_site::SiteError::BadStateFile {
                path,
                message: error.to_string(),
            })
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(source) => Err(AgentError::Io {
            action: "cannot read",
            path,
            source,
        }),
    }
}

/// Saves atomically: temp file, fsync, rename, dir fsync.
pub(crate) fn save(site: &Site, state: &State) -> Result<(), AgentError> {
    let json = serde_json::to_vec_pretty(state).expect("state serializes");
    durable::write_atomic(&path(site), &json)?;
    Ok(())
}
