//! Telling the app that a new data version is live, and undoing a data
//! roll the app did not take.
//!
//! `[data] reload` says how the app hears of it:
//! - `restart` (the default): a fresh process of the live release starts
//!   on the new data and is swapped in once healthy. The old one serves
//!   until then, so this is always safe.
//! - a signal (`HUP`, ...) to every app process, for apps that survive it:
//!   each must still run after `reload_grace`, and the live one must then
//!   answer its health check.
//! - `none`.
//!
//! A reload the app does not take fails the *data roll*, never the code
//! ([`Agent::data_rolled`]): `data/current` goes back to the version live
//! before, a live process the signal killed is started again (the same
//! release) on that version, the processes that took the signal and still
//! run get it once more so that they load that version back, and the
//! caller hears why.
//!
//! ```text
//! CLI: data/current -> V ──/v1/data {V, from}──▶ agent: reload
//!                                                 ├─ ok: responses name V
//!                                                 └─ app died or unhealthy:
//!                                                    data/current -> from,
//!                                                    same release restarted,
//!                                                    survivors signalled again,
//!                                                    409 DataReloadFailed
//! ```
//!
//! While a signal is out, the release owner marks the processes it went to
//! (`crate::releases::reload`): the crash restarter and the after-switch
//! watch leave their exits to this file, so a death by the reload signal is
//! never taken for a crash of the code (which once rolled the code back on
//! a data roll).

use super::Agent;
use crate::AgentError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What the CLI tells the agent after moving `data/current` (the body of
/// `POST /v1/data`, one type for both ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRoll {
    /// The version `data/current` names now.
    pub version: String,
    /// The version it named before: where it goes back when the app does
    /// not take the reload. `None`: no data was live.
    #[serde(default)]
    pub from: Option<String>,
}

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

/// A reload signal to send again to the processes it went to.
struct Again {
    signalled: Vec<Arc<hoist_supervisor::Process>>,
    signal: nix::sys::signal::Signal,
    grace: std::time::Duration,
}

impl Agent {
    /// `data/current` now names `roll.version`: reloads the app as `[data]
    /// reload` says, then names the version in responses. If the app does
    /// not take it, puts `data/current` back on `roll.from`, keeps (or
    /// starts again) the same code on it, and errors with
    /// [`AgentError::DataReloadFailed`].
    pub async fn data_rolled(
        self: &Arc<Self>,
        roll: &DataRoll,
    ) -> Result<DataReloaded, AgentError> {
        // The link on disk says what is live, not the caller: a name that is
        // not there would otherwise end up in every response's header.
        let live = live_version(&self.site);
        if live.as_deref() != Some(roll.version.as_str()) {
            return Err(AgentError::Remote(format!(
                "`data/current` names `{}`, not `{}`; roll with `hoist data roll`",
                live.as_deref().unwrap_or("nothing"),
                roll.version
            )));
        }
        // As the live release says, when it ships a `[data]`.
        let data = match self.releases.live() {
            Some(live) => crate::releases::data_for(&self.site, &self.data, live.release()),
            None => self.data.clone(),
        };
        let reload = data.reload.trim_start_matches("SIG").to_owned();
        let how = match reload.as_str() {
            "none" => "none".to_owned(),
            "restart" => match self.releases.restart_live().await {
                Ok(how) => how,
                // The fresh process never took traffic: the old one serves on.
                Err(error) => {
                    let problem = error.to_string();
                    let back = self.put_data_back(roll, &reload, problem, false, None);
                    return Err(back.await);
                }
            },
            name => {
                let signal = crate::releases::signal(name);
                match self.releases.signal_reload(signal, data.reload_grace).await {
                    Ok(count) => format!("signal {name} to {count} process(es)"),
                    Err(not) => {
                        let again = Again {
                            signalled: not.signalled,
                            signal,
                            grace: data.reload_grace,
                        };
                        let back = self.put_data_back(
                            roll,
                            name,
                            not.problem,
                            not.live_broken,
                            Some(again),
                        );
                        return Err(back.await);
                    }
                }
            }
        };
        self.router.set_data_version(Some(&roll.version));
        tracing::info!(version = %roll.version, %how, "data version live");
        Ok(DataReloaded {
            version: roll.version.clone(),
            how,
        })
    }

    /// The app did not take the new data: `data/current` goes back to
    /// `roll.from`, warm or held processes the signal killed are cleared
    /// away, the live release is started again on it if the reload broke
    /// it, and the processes that took the signal and still run are sent
    /// it `again`, so that they load `roll.from` back: they hold the new
    /// data otherwise, while every response names the old. The code stays
    /// what it was.
    async fn put_data_back(
        self: &Arc<Self>,
        roll: &DataRoll,
        how: &str,
        problem: String,
        live_broken: bool,
        again: Option<Again>,
    ) -> AgentError {
        tracing::warn!(version = %roll.version, from = ?roll.from, %problem, "the app did not take the data reload; putting the data back");
        let put_back = hoist_data::Catalog::open_existing(&self.site.data_dir())
            .and_then(|catalog| catalog.put_back(roll.from.as_deref()));
        let mut after = String::new();
        let put_back = match put_back {
            Ok(()) => true,
            Err(error) => {
                after.push_str(&format!(
                    "; putting `data/current` back failed too: {error}"
                ));
                false
            }
        };
        // What the link names now, whichever way that went.
        self.router
            .set_data_version(live_version(&self.site).as_deref());
        self.releases.clear_dead();
        if live_broken {
            after.push_str(&self.restart_live_after_reload().await);
        }
        let again = again.filter(|again| !again.signalled.is_empty());
        match (again, put_back, roll.from.as_deref()) {
            // With `data/current` not put back, signalled again they would
            // load the new data once more.
            (None, _, _) | (Some(_), false, _) => {}
            (Some(_), true, None) => after.push_str(&format!(
                "; there was no data before, so the processes still running hold `{}` until they start again (`hoist restart`)",
                roll.version
            )),
            (Some(again), true, Some(from)) => after.push_str(&self.signal_again(again, from).await),
        }
        self.save_or_warn();
        AgentError::DataReloadFailed {
            version: roll.version.clone(),
            restored: roll.from.clone(),
            how: how.to_owned(),
            problem,
            after,
        }
    }

    /// Sends the reload signal again to the processes that took it and
    /// still run, now that `data/current` names `from`; says how that
    /// went, `; ...`.
    async fn signal_again(self: &Arc<Self>, again: Again, from: &str) -> String {
        let sent = self
            .releases
            .signal_reload_again(&again.signalled, again.signal, again.grace)
            .await;
        match sent {
            Ok(0) => String::new(),
            Ok(count) => {
                format!("; the {count} process(es) that took it were told to load `{from}` again")
            }
            Err(not) => {
                tracing::error!(problem = %not.problem, "the processes that took the data reload did not take the old data back");
                self.releases.clear_dead();
                let mut said = format!(
                    "; telling the processes that took it to load `{from}` again failed: {}",
                    not.problem
                );
                if not.live_broken {
                    said.push_str(&self.restart_live_after_reload().await);
                }
                said
            }
        }
    }

    /// Starts the live release again, on the data now in `data/current`;
    /// says how that went, `; ...`.
    async fn restart_live_after_reload(self: &Arc<Self>) -> String {
        match self.releases.restart_live().await {
            Ok(_) => "; the live release was started again on it".to_owned(),
            Err(error) => {
                tracing::error!(%error, "cannot start the live release again after a failed data reload");
                format!("; starting the live release again failed: {error}")
            }
        }
    }

    /// Waits until the retired `release` has no requests in flight (or the
    /// drain timeout passes); true when it drained.
    pub async fn wait_drained(&self, release: &str) -> bool {
        self.releases.wait_drained(release).await
    }
}
