//! Telling the app that a new data version is live: a signal to every
//! process, or a blue/green restart of the live release.

use super::{Agent, Running};
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
            "restart" => self.restart_live().await?,
            name => {
                let signal = super::signal(name);
                let inner = self.inner.lock().await;
                let processes: Vec<&Arc<hoist_supervisor::Process>> = inner
                    .live
                    .iter()
                    .chain(inner.warm.values().map(|(running, _)| running))
                    .chain(inner.held.iter().map(|(running, _)| running))
                    .map(|running| &running.process)
                    .collect();
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

    /// Starts a fresh process of the live release, swaps it in once healthy,
    /// and drains and stops the old one: a restart nobody sees.
    async fn restart_live(self: &Arc<Self>) -> Result<String, AgentError> {
        let _turn = self.activation.lock().await;
        let Some(release) = self
            .live_backend()
            .await
            .map(|live| live.release().to_owned())
        else {
            return Ok("none (nothing live)".into());
        };
        let fresh: Running = self.start_ready(&release, Some(release.clone())).await?;
        let old = {
            let mut inner = self.inner.lock().await;
            self.router.set_live(fresh.backend.clone());
            inner.live.replace(fresh.clone())
        };
        self.watch_crashes(fresh);
        if let Some(old) = old {
            self.stop_after_drain(old);
        }
        self.save().await?;
        Ok("restarted".into())
    }

    /// Waits until the retired `release` has no requests in flight (or the
    /// drain timeout passes); true when it drained.
    pub async fn wait_drained(&self, release: &str) -> bool {
        let retired: Vec<_> = {
            let inner = self.inner.lock().await;
            inner
                .retired
                .iter()
                .filter(|backend| backend.release() == release)
                .cloned()
                .collect()
        };
        let mut drained = true;
        for backend in retired {
            drained &= backend.drained(self.process.drain_timeout).await;
        }
        drained
    }
}
