//! The release owner: which releases run, and which one the route and
//! `current` name. [`Releases`] alone holds the live release, the warm
//! ones, the held candidate and every app process started (its children);
//! everything that changes them is a method here, under its `activation`
//! lock.
//!
//! A switch ([`Releases::switch`]) keeps this order, so that a failure at
//! any step leaves what users get as it was:
//!
//! ```text
//!  candidate: warm │ held │ started with its own [process]
//!        │
//!        ▼ healthy? ───── no ────┐
//!        │                       │
//!        ▼                       ▼
//!  `current` written ── fails ─► candidate stopped (or back to warm/held);
//!   (rename + fsync)             the old release still serves, error says so
//!        │
//!        ▼
//!  route moved ─► old release drains, stays warm for `rollback_window`
//!        │
//!        ▼  (deploy/promote only)
//!  watch: process exits or 5xx over `max_error_rate`
//!        │
//!        ▼
//!  hoist_deploy::auto_rollback: site lock ─► journal ─► this switch ─► ledger
//!  (refused when the target predates the schema: the bad release keeps
//!   serving; ledger, log and `hoist status` say what to run)
//! ```
//!
//! Lock order: the site lock (`deploy.lock`, held by a CLI operation or
//! the automatic rollback) before `activation`; nothing waits for the site
//! lock while holding `activation`. `inner` is only held for moments.
//!
//! Every background task it spawns (the after-switch watch, the crash
//! watcher, warm expiry, drains) is tracked and stops on the agent's
//! shutdown token.

mod after_switch;
mod candidate;
mod children;
mod crashes;
mod link;
mod record;
mod reload;
mod spec;
mod start;
mod switch;
mod warm;

pub(crate) use children::Predecessor;
pub(crate) use spec::{data_for, signal};
pub use switch::Activated;

use crate::state::{Child, State, Warm};
use crate::status::{stats_json, Candidate, ProcessInfo};
use crate::AgentError;
use hoist_config::Process as ProcessConfig;
use hoist_proxy::{Backend, Router};
use hoist_site::Site;
use hoist_supervisor::Process;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A release the agent runs, with the backend the proxy counts it on.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    process: Arc<Process>,
    backend: Arc<Backend>,
    /// The `[process]` it runs with: its own, with the site's policy keys.
    spec: Arc<ProcessConfig>,
    /// Until when the watcher, not the crash restarter, owns this release's fate.
    watched_until: Option<Instant>,
    /// The release the watcher rolls back to.
    watched_from: Option<String>,
}

impl Running {
    /// Its release id.
    pub(crate) fn release(&self) -> &str {
        self.backend.release()
    }

    fn info(&self, until: Option<jiff::Timestamp>) -> ProcessInfo {
        ProcessInfo {
            release: self.release().to_owned(),
            port: self.process.addr().port(),
            pid: self.process.pid(),
            command: self.spec.command.clone(),
            until,
        }
    }
}

/// A backend that no longer gets new requests, and how long it may drain.
#[derive(Debug, Clone)]
struct Retired {
    backend: Arc<Backend>,
    drain_timeout: std::time::Duration,
}

/// Mutable state, only ever held for a moment (never across an await).
#[derive(Debug, Default)]
struct Inner {
    live: Option<Running>,
    warm: HashMap<String, (Running, jiff::Timestamp)>,
    /// Releases that stopped receiving new requests, for stats and drains.
    retired: Vec<Retired>,
    /// What the last automatic rollback did (or why it did not), for `hoist status`.
    last_auto_rollback: Option<String>,
    /// A candidate running beside the live release, and how it is steered.
    held: Option<(Running, Candidate)>,
    /// Every app process started and not yet stopped, for `agent-state.json`.
    children: Vec<children::Tracked>,
    /// The previous agent's children, from its `agent-state.json`: being
    /// stopped after it died, or still its own during an upgrade.
    inherited: Vec<Child>,
}

/// How the release owner has the agent's state file written after a
/// change: the agent composes it from every owner's part.
pub(crate) struct Persist(Box<dyn Fn() -> Result<(), AgentError> + Send + Sync>);

impl Persist {
    /// Persists through `save`.
    pub(crate) fn new(save: impl Fn() -> Result<(), AgentError> + Send + Sync + 'static) -> Self {
        Persist(Box::new(save))
    }
}

impl std::fmt::Debug for Persist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Persist")
    }
}

/// The releases of one site and their processes.
#[derive(Debug)]
pub(crate) struct Releases {
    site: Site,
    router: Arc<Router>,
    /// The site's `[process]`: for releases that ship none, and the keys
    /// that are site policy (`env_file`, `rollback_window`, `max_warm`) for all.
    site_process: Arc<ProcessConfig>,
    /// Held for a whole switch, hold or abort so two never interleave.
    activation: tokio::sync::Mutex<()>,
    inner: Mutex<Inner>,
    persist: Persist,
    /// Cancelled when the agent shuts down: every task below stops.
    shutdown: CancellationToken,
    /// The background tasks, so a shutdown can wait until they ended.
    tasks: TaskTracker,
    /// Processes a data reload signal went to: their exits are not crashes.
    reloading: reload::Reloading,
    /// Set once the listener went to a successor: it decides about rollbacks
    /// and restarts from then on, this agent only drains.
    handed_over: std::sync::atomic::AtomicBool,
    /// What the agent did, counted for `/metrics`.
    events: crate::metrics::Events,
}

/// The release owner's part of `hoist status`.
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) live: Option<ProcessInfo>,
    pub(crate) warm: Vec<ProcessInfo>,
    pub(crate) in_flight: u64,
    pub(crate) stats: Vec<serde_json::Value>,
    pub(crate) candidate: Option<Candidate>,
    pub(crate) last_auto_rollback: Option<String>,
}

impl Releases {
    /// The owner for `site`, running releases as `site_process` says
    /// unless they ship their own `[process]`.
    pub(crate) fn new(
        site: Site,
        router: Arc<Router>,
        site_process: ProcessConfig,
        persist: Persist,
        shutdown: CancellationToken,
    ) -> Releases {
        Releases {
            site,
            router,
            site_process: Arc::new(site_process),
            activation: tokio::sync::Mutex::new(()),
            inner: Mutex::new(Inner::default()),
            persist,
            shutdown,
            tasks: TaskTracker::new(),
            reloading: reload::Reloading::default(),
            handed_over: std::sync::atomic::AtomicBool::new(false),
            events: crate::metrics::Events::default(),
        }
    }

    /// Whether this site runs an app at all (an agent that only balances
    /// `[[proxy.backend]]` has no command).
    pub(crate) fn runs_apps(&self) -> bool {
        !self.site_process.command.is_empty()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("never poisoned")
    }

    /// The live release's backend, if one is live.
    pub(crate) fn live_backend(&self) -> Option<Arc<Backend>> {
        self.inner().live.as_ref().map(|live| live.backend.clone())
    }

    /// What the agent did, counted for `/metrics`.
    pub(crate) fn events(&self) -> &crate::metrics::Events {
        &self.events
    }

    /// Every release's backend that may still count requests: live, held,
    /// warm and draining (a release seen twice while a restart drains).
    pub(crate) fn backends(&self) -> Vec<Arc<Backend>> {
        let inner = self.inner();
        let running = inner
            .live
            .iter()
            .chain(inner.held.iter().map(|(running, _)| running))
            .chain(inner.warm.values().map(|(running, _)| running))
            .map(|running| running.backend.clone());
        let mut backends: Vec<Arc<Backend>> = running
            .chain(inner.retired.iter().map(|retired| retired.backend.clone()))
            .collect();
        // A warm release may still be draining: count its backend once.
        let mut seen = std::collections::HashSet::new();
        backends.retain(|backend| seen.insert(Arc::as_ptr(backend)));
        backends
    }

    /// The live release, if any.
    pub(crate) fn live(&self) -> Option<Running> {
        self.inner().live.clone()
    }

    /// Every running app process: live, warm and held.
    pub(crate) fn processes(&self) -> Vec<Arc<Process>> {
        let inner = self.inner();
        inner
            .live
            .iter()
            .chain(inner.warm.values().map(|(running, _)| running))
            .chain(inner.held.iter().map(|(running, _)| running))
            .map(|running| running.process.clone())
            .collect()
    }

    /// The site's `drain_timeout` (a release's own applies to its drains).
    pub(crate) fn site_drain_timeout(&self) -> std::time::Duration {
        self.site_process.drain_timeout
    }

    /// Waits until the retired `release` has no requests in flight (or its
    /// own drain timeout passes); true when it drained.
    pub(crate) async fn wait_drained(&self, release: &str) -> bool {
        let retired: Vec<Retired> = self
            .inner()
            .retired
            .iter()
            .filter(|retired| retired.backend.release() == release)
            .cloned()
            .collect();
        let mut drained = true;
        for retired in retired {
            drained &= retired.backend.drained(retired.drain_timeout).await;
        }
        drained
    }

    /// Watches the live release on for what is left of a watch a
    /// predecessor began (an upgrade or restart inside the window).
    pub(crate) fn rearm_watch(self: &Arc<Self>, watch: &crate::state::Watch) {
        let Ok(left) =
            std::time::Duration::try_from(watch.until.duration_since(jiff::Timestamp::now()))
        else {
            return;
        };
        let live = {
            let mut inner = self.inner();
            let Some(live) = inner
                .live
                .as_mut()
                .filter(|live| live.release() == watch.release)
            else {
                return;
            };
            live.watched_until = Some(crate::clock::instant_after(left));
            live.watched_from = Some(watch.from.clone());
            live.clone()
        };
        tracing::info!(release = %watch.release, left_ms = left.as_millis() as u64, "watching on after the restart");
        self.watch_after_switch(live, watch.from.clone(), left);
    }

    /// Holds new requests for at most `max`, and returns once the requests
    /// already in flight on the live release finished (or `max` ran out).
    pub(crate) async fn hold_requests(&self, max: std::time::Duration) -> crate::Paused {
        let started = Instant::now();
        self.router.pause(max);
        let live = self.live_backend();
        if let Some(live) = &live {
            live.drained(max).await;
        }
        crate::Paused {
            drained_ms: started.elapsed().as_millis() as u64,
            in_flight: live.map_or(0, |live| live.in_flight()),
        }
    }

    /// Whether `running`'s process (not just its release) is the live one.
    pub(crate) fn is_live(&self, running: &Running) -> bool {
        self.inner()
            .live
            .as_ref()
            .is_some_and(|live| Arc::ptr_eq(&live.process, &running.process))
    }

    /// Writes this owner's part of `agent-state.json` into `state`.
    pub(crate) fn save_into(&self, state: &mut State) {
        self.forget_gone_inherited();
        let mut inner = self.inner();
        state.live = inner.live.as_ref().map(|live| live.release().to_owned());
        state.warm = inner
            .warm
            .iter()
            .map(|(release, (_, until))| Warm {
                release: release.clone(),
                until: *until,
            })
            .collect();
        state.held = inner.held.as_ref().map(|(_, candidate)| candidate.clone());
        state.watch = inner.live.as_ref().and_then(|live| {
            let left = live.watched_until?.checked_duration_since(Instant::now())?;
            Some(crate::state::Watch {
                release: live.release().to_owned(),
                from: live.watched_from.clone()?,
                until: crate::clock::timestamp_after(left),
            })
        });
        state.children = inner.records();
    }

    /// What `hoist status` shows of the releases.
    pub(crate) fn view(&self) -> View {
        let inner = self.inner();
        let mut backends: Vec<&Arc<Backend>> = inner
            .retired
            .iter()
            .map(|retired| &retired.backend)
            .collect();
        backends.extend(inner.live.as_ref().map(|live| &live.backend));
        backends.extend(inner.held.as_ref().map(|(running, _)| &running.backend));
        View {
            live: inner.live.as_ref().map(|live| live.info(None)),
            warm: inner
                .warm
                .values()
                .map(|(running, until)| running.info(Some(*until)))
                .collect(),
            in_flight: backends.iter().map(|backend| backend.in_flight()).sum(),
            stats: backends
                .iter()
                .map(|backend| stats_json(&backend.stats()))
                .collect(),
            candidate: inner.held.as_ref().map(|(_, candidate)| candidate.clone()),
            last_auto_rollback: inner.last_auto_rollback.clone(),
        }
    }

    /// Has the agent's state saved after a change. A failure must not undo
    /// or hide the change (`current` and the route already moved, a process
    /// already started): it is logged, and the next save catches up.
    fn save(&self) {
        if let Err(error) = (self.persist.0)() {
            tracing::warn!(%error, "cannot save the agent state");
        }
    }

    /// Runs `task` (a watch, a timer) in the background until it ends or
    /// the agent shuts down.
    fn spawn_until_shutdown(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Runs `task`, one that ends by itself (a drain and stop), in the
    /// background; a shutdown waits for it rather than cut it short.
    fn spawn_to_end(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// The listener went to a successor: no more rollbacks or restarts of
    /// our own (the successor watches the same releases).
    pub(crate) fn hand_over(&self) {
        self.handed_over
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether a successor now serves.
    fn is_handed_over(&self) -> bool {
        self.handed_over.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Refuses new work once the agent is shutting down.
    fn refuse_if_shutting_down(&self) -> Result<(), AgentError> {
        if self.shutdown.is_cancelled() {
            return Err(AgentError::ShuttingDown);
        }
        Ok(())
    }

    /// Stops every process (agent shutdown): the background tasks first,
    /// then requests still in flight finish (up to the drain timeout).
    pub(crate) async fn stop_all(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        let _turn = self.activation.lock().await;
        let all: Vec<Running> = {
            let mut inner = self.inner();
            let mut all: Vec<Running> = inner
                .warm
                .drain()
                .map(|(_, (running, _))| running)
                .collect();
            all.extend(inner.live.take());
            all.extend(inner.held.take().map(|(running, _)| running));
            all
        };
        self.router.clear();
        self.router.set_candidate(None);
        for running in &all {
            running.backend.drained(running.spec.drain_timeout).await;
        }
        for running in all {
            running.process.stop().await;
        }
    }

    /// The records of children still running (for the state file a
    /// stopped agent leaves).
    pub(crate) fn leftover_children(&self) -> Vec<Child> {
        self.forget_gone_inherited();
        self.inner().records()
    }
}
