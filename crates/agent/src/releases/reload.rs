//! A data reload by signal, as the release owner sees it: whether every
//! process would act on the signal (asked of `/proc` before any gets it),
//! which processes the signal went to, whether they survived it, and
//! clearing away the ones it killed.
//!
//! While a signal is out, the processes it went to are [`Reloading`]: the
//! crash restarter and the after-switch watch leave their exits to the
//! data roll (`crate::agent::data`), so a death by the reload signal is
//! never taken for a crash of the code (which once rolled the code back
//! on a data roll).

use super::{Releases, Running};
use hoist_supervisor::Process;
use std::sync::Arc;
use std::time::Duration;

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

/// A reload signal the app did not take.
#[derive(Debug)]
pub(crate) struct NotTaken {
    /// What went wrong.
    pub(crate) problem: String,
    /// The live process died of it or answers no more: it must start again.
    pub(crate) live_broken: bool,
    /// The processes the signal went to (none when it was refused before
    /// any got it): those still running may hold the new data now.
    pub(crate) signalled: Vec<Arc<Process>>,
}

impl Releases {
    /// Sends `signal` to every app process (live, warm, held) and checks
    /// they all still run after `grace`, and that the live one then passes
    /// its health check. Returns how many processes it signalled.
    pub(crate) async fn signal_reload(
        self: &Arc<Self>,
        signal: nix::sys::signal::Signal,
        grace: Duration,
    ) -> Result<usize, NotTaken> {
        // No switch interleaves with a reload.
        let _turn = self.activation.lock().await;
        let processes = self.processes();
        self.send_reload(processes, signal, grace).await
    }

    /// Sends `signal` again to those of `signalled` that still run as live,
    /// warm or held, once `data/current` is back, so that they load the
    /// data they had before: a process started since (a live release
    /// started again) is on that data already and is left alone. Returns
    /// how many processes it signalled, 0 when none is left.
    pub(crate) async fn signal_reload_again(
        self: &Arc<Self>,
        signalled: &[Arc<Process>],
        signal: nix::sys::signal::Signal,
        grace: Duration,
    ) -> Result<usize, NotTaken> {
        let _turn = self.activation.lock().await;
        let current = self.processes();
        let processes: Vec<Arc<Process>> = signalled
            .iter()
            .filter(|process| process.exited().is_none())
            .filter(|process| current.iter().any(|now| Arc::ptr_eq(now, process)))
            .cloned()
            .collect();
        if processes.is_empty() {
            return Ok(0);
        }
        self.send_reload(processes, signal, grace).await
    }

    /// Sends `signal` to `processes` and watches them for `grace`; the
    /// caller holds the activation lock.
    async fn send_reload(
        self: &Arc<Self>,
        processes: Vec<Arc<Process>>,
        signal: nix::sys::signal::Signal,
        grace: Duration,
    ) -> Result<usize, NotTaken> {
        // Health-checked afterwards only if the signal went to it.
        let live = self
            .live()
            .filter(|live| processes.iter().any(|p| Arc::ptr_eq(p, &live.process)));
        // Asked first, of every process: one that would die of the signal
        // (users would see errors until it is back) or ignore it (it would
        // keep the old data while hoist names the new) refuses the reload
        // before any process gets it.
        for process in &processes {
            if let Err(problem) = process.takes_signal(signal) {
                return Err(NotTaken {
                    problem: format!(
                        "release `{}`: {problem}; no process was signalled",
                        process.release()
                    ),
                    live_broken: false,
                    signalled: Vec::new(),
                });
            }
        }
        let _owned = self.reloading.own(&processes);
        for process in &processes {
            if process.signal_app(signal) == 0 {
                tracing::warn!(
                    release = process.release(),
                    "no app process to signal a data reload to"
                );
            }
        }
        let mut exits = tokio::task::JoinSet::new();
        for process in &processes {
            let process = process.clone();
            exits.spawn(async move {
                let status = process.wait_exit().await;
                (process.release().to_owned(), status)
            });
        }
        // A deliberate observation window, not a synchronisation: an app
        // that dies of the signal does so within it. Watched to its end
        // even after a first death, so that every death the signal caused
        // is this reload's, not a crash for the restarter to see.
        let deadline = tokio::time::Instant::now() + grace;
        let mut died = Vec::new();
        while let Ok(Some(Ok((release, status)))) =
            tokio::time::timeout_at(deadline, exits.join_next()).await
        {
            died.push(format!("`{release}` exited ({status})"));
        }
        if !died.is_empty() {
            // Another process died of it: the live one may be dying too, so
            // it is asked, not looked at once.
            let live_broken = match &live {
                Some(live) => healthy(live).await.is_err(),
                None => false,
            };
            return Err(NotTaken {
                problem: format!("{} after the signal", died.join(", ")),
                live_broken,
                signalled: processes,
            });
        }
        if let Some(live) = &live {
            if let Err(problem) = healthy(live).await {
                return Err(NotTaken {
                    problem: format!("after the signal, {problem}"),
                    live_broken: true,
                    signalled: processes,
                });
            }
        }
        Ok(processes.len())
    }

    /// Drops warm releases and the held candidate whose process a reload
    /// signal killed: nothing may route to them.
    pub(crate) fn clear_dead(self: &Arc<Self>) {
        let dead: Vec<Running> = {
            let mut inner = self.inner();
            let gone: Vec<String> = inner
                .warm
                .iter()
                .filter(|(_, (running, _))| running.process.exited().is_some())
                .map(|(release, _)| release.clone())
                .collect();
            let mut dead: Vec<Running> = gone
                .iter()
                .filter_map(|release| inner.warm.remove(release).map(|(running, _)| running))
                .collect();
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
                release = running.release(),
                "the data reload signal killed it; dropped"
            );
            self.stop_after_drain(running);
        }
        self.save();
    }
}

/// Whether `running` answers its own health check.
async fn healthy(running: &Running) -> Result<(), String> {
    let spec = &running.spec;
    running
        .process
        .wait_ready(&spec.health_path, spec.healthy_after, spec.health_timeout)
        .await
}
