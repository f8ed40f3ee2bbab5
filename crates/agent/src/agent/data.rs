//! Telling the app that a new data version is live: a signal to every
//! process, or a blue/green restart of the live release.

use super::Agent;
use crate::AgentError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What the agent did after a data roll.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataReloaded {
    /// The version responses now name.
    pub version: String,
    /// `signal HUP to 2 processes`, `restarted`, or `none`.
    pub how: String,
}

/// The version `data/current` names, if any.
pub(super) fn live_version(site: &hoist_site::Site) -> Option<String> {
    let target = std::fs::read_link(site.data_current_link()).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

impl Agent {
    /// `data/current` now names `version`: reloads the app as `[data] reload`
    /// says, then names the version in responses.
    pub async fn data_rolled(self: &Arc<Self>, version: &str) -> Result<DataReloaded, AgentError> {
        // The link on disk says what is live, not the caller: a name that is
        // not there would otherwise end up in every response's header.
        let live = live_version(&self.site);
        if live.as_deref() != Some(version) {
            return Err(AgentError::Remote(format!(
                "`data/current` names `{}`, not `{version}`; roll with `hoist data roll`",
                live.as_deref().unwrap_or("nothing")
            )));
        }
        let how = match self.data.reload.trim_start_matches("SIG") {
            "none" => "none".to_owned(),
            "restart" => self.releases.restart_live().await?,
            name => {
                let signal = crate::releases::signal(name);
                let processes = self.releases.processes();
                for process in &processes {
                    if process.signal_app(signal) == 0 {
                        tracing::warn!(
                            release = process.release(),
                            "no app process to signal a data reload to"
                        );
                    }
                }
                format!("signal {name} to {} process(es)", processes.len())
            }
        };
        self.router.set_data_version(Some(version));
        tracing::info!(version, %how, "data version live");
        Ok(DataReloaded {
            version: version.to_owned(),
            how,
        })
    }

    /// Waits until the retired `release` has no requests in flight (or the
    /// drain timeout passes); true when it drained.
    pub async fn wait_drained(&self, release: &str) -> bool {
        self.releases.wait_drained(release).await
    }
}
