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
    /// Every app process this agent started and has not stopped yet,
    /// recorded before its health check, so a successor (after `kill -9`)
    /// can stop the ones still running, and nothing else.
    #[serde(default)]
    pub(crate) children: Vec<Child>,
    /// Bare pids, as older versions wrote them. Read so such a file still
    /// loads, never acted on: a pid alone may name a stranger by now.
    #[serde(default, skip_serializing)]
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
    /// The live release's after-switch watch, while it runs: a successor
    /// (upgrade, restart) watches on for what is left of it.
    #[serde(default)]
    pub(crate) watch: Option<Watch>,
    /// Static backends known down or drained (`hoist drain`): a successor
    /// must not send requests to them before their health check says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) backends: Vec<BackendRecord>,
}

/// What the agent knows of one static backend beyond `hoist.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackendRecord {
    /// Its URL as in `[[proxy.backend]]`.
    pub(crate) url: String,
    /// Its health checks failed: it stays out until one passes.
    #[serde(default)]
    pub(crate) down: bool,
    /// Drained by `hoist drain`: it stays out until `hoist undrain`.
    #[serde(default)]
    pub(crate) draining: bool,
}

/// An after-switch watch in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Watch {
    /// The release watched (live).
    pub(crate) release: String,
    /// The release it rolls back to on a problem.
    pub(crate) from: String,
    /// When the watch ends.
    pub(crate) until: jiff::Timestamp,
}

/// A warm release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Warm {
    pub(crate) release: String,
    pub(crate) until: jiff::Timestamp,
}

/// One app process group of the agent, with who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Child {
    pub(crate) release: String,
    /// pid, start time, boot id and token: what a successor checks before any signal.
    #[serde(flatten)]
    pub(crate) identity: hoist_supervisor::Identity,
    /// Where it listens, so a leftover one can be found by its port.
    pub(crate) port: u16,
    pub(crate) role: Role,
}

/// What a child was doing when the state was saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// The release the route points at.
    Live,
    /// The previous release, kept for an instant rollback.
    Warm,
    /// A candidate held beside the live release.
    Held,
    /// Started, not yet through its health check.
    Starting,
    /// Draining or being stopped.
    Stopping,
    /// A previous agent's child, still being stopped (or, during an
    /// upgrade, still the old agent's).
    Inherited,
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
            cause: source,
        }),
    }
}

/// Saves atomically: temp file, fsync, rename, dir fsync.
pub(crate) fn save(site: &Site, state: &State) -> Result<(), AgentError> {
    let json = serde_json::to_vec_pretty(state).expect("state serializes");
    durable::write_state(&path(site), &json, site.state_access())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_state_with_bare_pids_loads_and_they_are_not_written_back() {
        let old = r#"{ "live": "v1", "warm": [], "pids": [4242, 4243] }"#;
        let state: State = serde_json::from_str(old).unwrap();
        assert_eq!(
            (state.live.as_deref(), state.pids.as_slice()),
            (Some("v1"), &[4242, 4243][..])
        );
        assert!(state.children.is_empty());
        let written = serde_json::to_value(&state).unwrap();
        assert!(written.get("pids").is_none(), "{written}");
    }

    #[test]
    fn a_state_from_before_backends_were_recorded_loads() {
        let old = r#"{ "live": "v1", "warm": [], "children": [],
            "maintenance": null, "paused_until": null, "held": null }"#;
        let state: State = serde_json::from_str(old).unwrap();
        assert!(state.backends.is_empty());
        let written = serde_json::to_value(&state).unwrap();
        assert!(written.get("backends").is_none(), "{written}");
    }

    #[test]
    fn backend_records_round_trip() {
        let state = State {
            backends: vec![BackendRecord {
                url: "http://127.0.0.1:8001".into(),
                down: true,
                draining: false,
            }],
            ..State::default()
        };
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<State>(&json).unwrap(), state);
    }

    #[test]
    fn children_round_trip_with_their_identity() {
        let child = Child {
            release: "v2".into(),
            identity: hoist_supervisor::Identity {
                pid: 4242,
                start_ticks: 987_654,
                boot_id: "c0ffee00-0000-4000-8000-000000000000".into(),
                token: "17-1234-3".into(),
            },
            port: 41234,
            role: Role::Starting,
        };
        let state = State {
            children: vec![child.clone()],
            ..State::default()
        };
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["children"][0]["pid"], 4242);
        assert_eq!(json["children"][0]["start_ticks"], 987_654);
        assert_eq!(json["children"][0]["role"], "starting");
        let back: State = serde_json::from_value(json).unwrap();
        assert_eq!(back.children, vec![child]);
    }
}
