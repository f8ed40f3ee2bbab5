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
//! release) on that version, and the caller hears why.
//!
//! ```text
//! CLI: data/current -> V ──/v1/data {V, from}──▶ agent: reload
//!                                                 ├─ ok: responses name V
//!                                                 └─ app died or unhealthy:
//!                                                    data/current -> from,
//!                                                    same release restarted,
//!                                                    409 DataReloadFailed
//! ```
//!
//! While a signal is out, the processes it went to are [`Reloading`]: the
//! crash restarter and the after-switch watch leave their exits to this
//! file, so a death by the reload signal is never taken for a crash of
//! the code (which once rolled the code back on a data roll).

use super::{Agent, Running};
use crate::AgentError;
use hoist_supervisor::Process;
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

/// The processes a reload signal went to: their exit is the reload's to
/// handle, not a crash. One that died of the signal stays listed, so a
/// watcher that wakes late still leaves it alone.
#[derive(Debug, Default)]
pub(crate) struct Reloading(std::sync::Mutex<Vec<Arc<Process>>>);

impl Reloading {
    /// Whether `process`'s exit belongs to a data reload.
    pub(crate) fn owns(&self, process: &Arc<Process>) -> bool {
        let owned = self.0.lock().expect("never poisoned");
        owned.iter().any(|owned| Arc::ptr_eq(owned, process))
    }

    /// Owns `processes` until the guard drops; then gives back the ones
    /// still running.
    fn own(&self, processes: &[Arc<Process>]) -> Owned<'_> {
        let mut owned = self.0.lock().expect("never poisoned");
        // Dead ones from an earlier reload: their watchers have long looked.
        owned.retain(|process| !process.is_stopped());
        owned.extend(processes.iter().cloned());
        Owned(self)
    }
}

/// Gives the survivors of a reload back to their watchers on drop.
struct Owned<'a>(&'a Reloading);

impl Drop for Owned<'_> {
    fn drop(&mut self) {
        let mut owned = self.0 .0.lock().expect("never poisoned");
        owned.retain(|process| process.exited().is_some());
    }
}

/// The version `data/current` names, if any.
pub(super) fn live_version(site: &hoist_site::Site) -> Option<String> {
    let target = std::fs::read_link(site.data_current_link()).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
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
        // No switch interleaves with a reload, nor with undoing one.
        let _turn = self.activation.lock().await;
        let reload = self.data.reload.trim_start_matches("SIG").to_owned();
        let how = match reload.as_str() {
            "none" => "none".to_owned(),
            "restart" => match self.restart_live().await {
                Ok(how) => how,
                // The fresh process never took traffic: the old one serves on.
                Err(error) => {
                    let problem = error.to_string();
                    return Err(self.put_data_back(roll, &reload, problem, None).await);
                }
            },
            name => self.signal_reload(roll, name).await?,
        };
        self.router.set_data_version(Some(&roll.version));
        tracing::info!(version = %roll.version, %how, "data version live");
        Ok(DataReloaded {
            version: roll.version.clone(),
            how,
        })
    }

    /// Sends `name` to every app process and checks they all survive it;
    /// if not, undoes the roll.
    async fn signal_reload(
        self: &Arc<Self>,
        roll: &DataRoll,
        name: &str,
    ) -> Result<String, AgentError> {
        let signal = super::signal(name);
        let (live, processes) = {
            let inner = self.inner.lock().await;
            let live = inner.live.as_ref().map(|live| live.process.clone());
            let processes: Vec<Arc<Process>> = inner
                .live
                .iter()
                .chain(inner.warm.values().map(|(running, _)| running))
                .chain(inner.held.iter().map(|(running, _)| running))
                .map(|running| running.process.clone())
                .collect();
            (live, processes)
        };
        let _owned = self.reloading.own(&processes);
        for process in &processes {
            if process.signal_app(signal) == 0 {
                tracing::warn!(
                    release = process.release(),
                    "no app process to signal a data reload to"
                );
            }
        }
        if let Err(problem) = self.survived(&processes, live.as_ref()).await {
            let broken = match live {
                Some(live) if !self.is_healthy(&live).await => Some(live),
                _ => None,
            };
            return Err(self.put_data_back(roll, name, problem, broken).await);
        }
        Ok(format!("signal {name} to {} process(es)", processes.len()))
    }

    /// Whether `process` still runs and answers its health check.
    async fn is_healthy(&self, process: &Process) -> bool {
        process
            .wait_ready(
                &self.process.health_path,
                self.process.healthy_after,
                self.process.health_timeout,
            )
            .await
            .is_ok()
    }

    /// Every signalled process still runs after `reload_grace`, and the
    /// live one answers its health check; else what went wrong.
    async fn survived(
        &self,
        processes: &[Arc<Process>],
        live: Option<&Arc<Process>>,
    ) -> Result<(), String> {
        let mut exits = tokio::task::JoinSet::new();
        for process in processes {
            let process = process.clone();
            exits.spawn(async move {
                let status = process.wait_exit().await;
                (process.release().to_owned(), status)
            });
        }
        // A deliberate observation window, not a synchronisation: an app
        // that dies of the signal does so within it.
        let first_exit = tokio::time::timeout(self.data.reload_grace, exits.join_next()).await;
        if let Ok(Some(Ok((release, status)))) = first_exit {
            return Err(format!("`{release}` exited ({status}) after the signal"));
        }
        if let Some(live) = live {
            live.wait_ready(
                &self.process.health_path,
                self.process.healthy_after,
                self.process.health_timeout,
            )
            .await
            .map_err(|problem| format!("after the signal, {problem}"))?;
        }
        Ok(())
    }

    /// The app did not take the new data: `data/current` goes back to
    /// `roll.from`, the live release is started again on it if the reload
    /// broke it (`broken`: its process, dead or unhealthy), and warm or held
    /// processes the signal killed are cleared away. The code stays what
    /// it was.
    async fn put_data_back(
        self: &Arc<Self>,
        roll: &DataRoll,
        how: &str,
        problem: String,
        broken: Option<Arc<Process>>,
    ) -> AgentError {
        tracing::warn!(version = %roll.version, from = ?roll.from, %problem, "the app did not take the data reload; putting the data back");
        let put_back = hoist_data::Catalog::open_existing(&self.site.data_dir())
            .and_then(|catalog| catalog.put_back(roll.from.as_deref()));
        let mut after = match put_back {
            Ok(()) => String::new(),
            Err(error) => format!("; putting `data/current` back failed too: {error}"),
        };
        self.router.set_data_version(roll.from.as_deref());
        if let Some(process) = broken {
            after.push_str(&self.restart_broken(&process).await);
        }
        self.clear_dead().await;
        self.save_or_warn().await;
        AgentError::DataReloadFailed {
            version: roll.version.clone(),
            restored: roll.from.clone(),
            how: how.to_owned(),
            problem,
            after,
        }
    }

    /// Starts the live release again after a reload signal killed it (or
    /// left it unhealthy), on the data now live, and swaps it in.
    async fn restart_broken(self: &Arc<Self>, process: &Arc<Process>) -> String {
        let release = process.release().to_owned();
        let fresh = match self.start_ready(&release, Some(release.clone())).await {
            Ok(fresh) => fresh,
            Err(error) => {
                tracing::error!(%release, %error, "cannot start the live release again after a failed data reload");
                return format!("; starting `{release}` again failed: {error}");
            }
        };
        let old = {
            let mut inner = self.inner.lock().await;
            let still_live = inner
                .live
                .as_ref()
                .is_some_and(|live| Arc::ptr_eq(&live.process, process));
            if !still_live {
                // Something else replaced it meanwhile: the fresh one is not needed.
                drop(inner);
                fresh.process.stop().await;
                return String::new();
            }
            self.router.set_live(fresh.backend.clone());
            inner.live.replace(fresh.clone())
        };
        self.watch_crashes(fresh);
        if let Some(old) = old {
            self.stop_after_drain(old);
        }
        format!("; `{release}` was started again on it")
    }

    /// Drops warm releases and the held candidate whose process the reload
    /// signal killed: nothing should route to them.
    async fn clear_dead(self: &Arc<Self>) {
        let dead: Vec<Running> = {
            let mut inner = self.inner.lock().await;
            let mut dead = Vec::new();
            let gone: Vec<String> = inner
                .warm
                .iter()
                .filter(|(_, (running, _))| running.process.exited().is_some())
                .map(|(release, _)| release.clone())
                .collect();
            for release in gone {
                dead.extend(inner.warm.remove(&release).map(|(running, _)| running));
            }
            if inner
                .held
                .as_ref()
                .is_some_and(|(running, _)| running.process.exited().is_some())
            {
                self.router.set_candidate(None);
                dead.extend(inner.held.take().map(|(running, _)| running));
            }
            dead
        };
        for running in dead {
            tracing::warn!(
                release = running.backend.release(),
                "the data reload signal killed it; dropped"
            );
            self.stop_after_drain(running);
        }
    }

    /// Starts a fresh process of the live release, swaps it in once healthy,
    /// and drains and stops the old one: a restart nobody sees. The caller
    /// holds the activation turn.
    async fn restart_live(self: &Arc<Self>) -> Result<String, AgentError> {
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
