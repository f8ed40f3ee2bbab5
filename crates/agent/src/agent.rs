//! Blue/green orchestration: candidates, the route, draining, warm releases.

mod children;
mod data;
mod warm;

pub use data::{DataReloaded, DataRoll};

use children::{Predecessor, Tracked};

use crate::state::{self, State, Warm};
use crate::status::{stats_json, AgentStatus, ProcessInfo};
use crate::AgentError;
use hoist_config::{Config, Process as ProcessConfig};
use hoist_proxy::{Backend, Router};
use hoist_site::Site;
use hoist_supervisor::{Process, Spec};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A release the agent runs, with the backend the proxy counts it on.
#[derive(Debug, Clone)]
struct Running {
    process: Arc<Process>,
    backend: Arc<Backend>,
    /// Until when the watcher, not the crash restarter, owns this release's fate.
    watched_until: Option<Instant>,
}

/// Mutable state, behind one lock so activations never interleave.
#[derive(Debug, Default)]
struct Inner {
    live: Option<Running>,
    warm: HashMap<String, (Running, jiff::Timestamp)>,
    /// Backends that stopped receiving new requests, for stats.
    retired: Vec<Arc<Backend>>,
    /// The last automatic rollback, for `hoist status`.
    last_auto_rollback: Option<String>,
    /// A candidate running beside the live release, and how it is steered.
    held: Option<(Running, crate::Candidate)>,
    /// Every app process started and not yet stopped, for `agent-state.json`.
    children: Vec<Tracked>,
    /// The previous agent's children, from its `agent-state.json`: being
    /// stopped after it died, or still its own during an upgrade.
    inherited: Vec<state::Child>,
}

/// The result of an activation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activated {
    /// The release now live.
    pub release: String,
    /// The release live before.
    pub from: Option<String>,
    /// True when the release was warm, so nothing had to start.
    pub instant: bool,
    /// Time from the request to the route swap, ms.
    pub switch_ms: u64,
}

/// The agent for one site.
#[derive(Debug)]
pub struct Agent {
    site: Site,
    process: ProcessConfig,
    router: Arc<Router>,
    listen: String,
    /// Held for a whole activation so two never interleave; `inner` is only held briefly.
    activation: Mutex<()>,
    inner: Mutex<Inner>,
    /// A duplicate of the public listener, kept to hand to a successor.
    public: std::sync::Mutex<Option<std::os::fd::OwnedFd>>,
    /// Set once the listener went to a new agent: this one only drains now.
    handed_over: tokio::sync::watch::Sender<bool>,
    /// Maintenance by command, flag file and schedule.
    maintenance: std::sync::Mutex<crate::maintenance::Sources>,
    /// `[maintenance]` from the config.
    maintenance_config: hoist_config::MaintenanceConfig,
    /// `[[proxy.backend]]` from the config.
    backends: Vec<hoist_config::StaticBackend>,
    /// `[data]`: how a data roll reaches the app.
    data: hoist_config::Data,
    /// Processes a data reload signal went to: their exits are not crashes.
    reloading: data::Reloading,
}

impl Agent {
    /// An agent for `site` running releases as `config` says.
    pub fn new(
        site: Site,
        config: &Config,
        router: Arc<Router>,
        listen: String,
    ) -> Result<Arc<Agent>, AgentError> {
        let process = match (&config.process, config.proxy.backend.is_empty()) {
            (Some(process), _) => process.clone(),
            // Balancing static backends needs no app of our own.
            (None, false) => ProcessConfig::without_app(),
            (None, true) => return Err(AgentError::NoProcessConfig),
        };
        router.set_members(crate::members::build(&config.proxy.backend)?);
        router.set_data_version(data::live_version(&site).as_deref());
        Ok(Arc::new(Agent {
            site,
            process,
            router,
            listen,
            activation: Mutex::new(()),
            inner: Mutex::new(Inner::default()),
            public: std::sync::Mutex::new(None),
            handed_over: tokio::sync::watch::channel(false).0,
            maintenance: std::sync::Mutex::new(crate::maintenance::Sources::default()),
            maintenance_config: config.maintenance.clone(),
            backends: config.proxy.backend.clone(),
            data: config.data.clone(),
            reloading: data::Reloading::default(),
        }))
    }

    /// Restores after a restart (or `kill -9`): stops what is left of the
    /// previous agent's children, in the background, and starts the live
    /// release (`current`), the held candidate and any warm releases still
    /// in their window.
    pub async fn restore(self: &Arc<Self>) -> Result<(), AgentError> {
        self.put_back(Predecessor::Dead).await
    }

    /// For `hoist agent --upgrade`: restores as [`Agent::restore`] does, on
    /// fresh processes, but leaves the old agent's processes alone (they
    /// keep serving until the handover, and it stops them when it exits).
    pub async fn start_for_upgrade(self: &Arc<Self>) -> Result<(), AgentError> {
        self.put_back(Predecessor::Serving).await
    }

    /// What a restart and an upgrade share: the saved state, put back.
    async fn put_back(self: &Arc<Self>, predecessor: Predecessor) -> Result<(), AgentError> {
        let saved = state::load(&self.site)?;
        if !saved.pids.is_empty() {
            tracing::warn!(
                pids = ?saved.pids,
                "`agent-state.json` lists bare pids (an older hoist wrote it); a pid alone cannot be verified, so those processes are left alone"
            );
        }
        self.inherit(saved.children.clone(), predecessor).await;
        self.set_maintenance(saved.maintenance.clone());
        if let Some(until) = saved.paused_until {
            // A pause outlives a restart, with what is left of its `--max`.
            let left = Duration::try_from(until.duration_since(jiff::Timestamp::now()))
                .unwrap_or_default();
            self.router.pause(left);
        }
        crate::maintenance::follow_flag_file(self);
        if let Some(members) = self.router.members() {
            crate::members::follow_health(self, members, self.backends.clone());
        }
        crate::maintenance::follow_schedule(self, self.maintenance_config.window.clone());
        if let Some(live) = self
            .site
            .live()?
            .filter(|_| !self.process.command.is_empty())
        {
            self.activate(&live, false).await?;
        }
        if let Some(candidate) = saved.held {
            self.hold(&candidate.release, candidate.test_from).await?;
            self.canary(candidate.percent).await?;
        }
        let now = jiff::Timestamp::now();
        for warm in saved.warm.iter().filter(|warm| warm.until > now) {
            if let Err(error) = self.start_warm(&warm.release, warm.until).await {
                tracing::warn!(release = %warm.release, %error, "could not restore a warm release");
            }
        }
        self.save().await
    }

    /// Switches maintenance on (`Some`) or off (`None`) by command, persisted.
    pub fn set_maintenance(&self, maintenance: Option<hoist_proxy::Maintenance>) {
        self.update_maintenance(|sources| {
            sources.command = maintenance;
            true
        });
    }

    /// Follows the flag file; only changes the route when it changed.
    pub(crate) fn set_flag_maintenance(&self, flag: Option<hoist_proxy::Maintenance>) {
        self.update_maintenance(|sources| replace_if_changed(&mut sources.flag, flag));
    }

    /// Follows the schedule; only changes the route when it changed.
    pub(crate) fn set_schedule_maintenance(&self, scheduled: Option<hoist_proxy::Maintenance>) {
        self.update_maintenance(|sources| replace_if_changed(&mut sources.schedule, scheduled));
    }

    /// Applies `change` to the maintenance sources and reroutes if it says something changed.
    fn update_maintenance(&self, change: impl FnOnce(&mut crate::maintenance::Sources) -> bool) {
        let mut sources = self.maintenance.lock().expect("never poisoned");
        if change(&mut sources) {
            self.router.set_maintenance(sources.effective().0);
        }
    }

    /// Holds new requests for at most `max`, and returns once the requests
    /// already in flight have finished (or `max` ran out).
    pub async fn pause(&self, max: Duration) -> Result<crate::Paused, AgentError> {
        let started = Instant::now();
        self.router.pause(max);
        let live = self.live_backend().await;
        if let Some(live) = &live {
            live.drained(max).await;
        }
        self.save().await?;
        Ok(crate::Paused {
            drained_ms: started.elapsed().as_millis() as u64,
            in_flight: live.map_or(0, |live| live.in_flight()),
        })
    }

    /// Releases held requests.
    pub async fn resume(&self) -> Result<(), AgentError> {
        self.router.resume();
        self.save().await
    }

    /// The flag file that turns maintenance on, as existing scripts `touch`
    /// it: relative to the site root (the config refuses anything else).
    pub(crate) fn flag_file_relative(&self) -> std::path::PathBuf {
        self.maintenance_config
            .flag_file
            .clone()
            .unwrap_or_else(|| "maintenance".into())
    }

    /// Starts `release` beside the live one and health-checks it; only test
    /// traffic reaches it until [`Agent::canary`] or a promote.
    pub async fn hold(
        self: &Arc<Self>,
        release: &str,
        test_from: Vec<String>,
    ) -> Result<(), AgentError> {
        let _turn = self.activation.lock().await;
        self.drop_candidate().await;
        let live = self
            .live_backend()
            .await
            .map(|live| live.release().to_owned());
        let running = self.start_ready(release, live).await?;
        let candidate = crate::Candidate {
            release: release.to_owned(),
            percent: 0,
            test_from,
        };
        self.steer(&running, &candidate);
        self.inner.lock().await.held = Some((running, candidate));
        self.save().await
    }

    /// Sends `percent` of clients (sticky) to the held candidate.
    pub async fn canary(&self, percent: u8) -> Result<crate::Candidate, AgentError> {
        let mut inner = self.inner.lock().await;
        let Some((running, candidate)) = inner.held.as_mut() else {
            return Err(AgentError::Remote(
                "no candidate is held; deploy one with `hoist deploy --hold` first".into(),
            ));
        };
        candidate.percent = percent.min(100);
        let (running, candidate) = (running.clone(), candidate.clone());
        drop(inner);
        self.steer(&running, &candidate);
        self.save().await?;
        Ok(candidate)
    }

    /// Stops steering to the held candidate and stops it; returns its release.
    pub async fn abort(&self) -> Result<Option<String>, AgentError> {
        let _turn = self.activation.lock().await;
        let release = self.drop_candidate().await;
        self.save().await?;
        Ok(release)
    }

    fn steer(&self, running: &Running, candidate: &crate::Candidate) {
        self.router.set_candidate(Some(hoist_proxy::Steering {
            backend: running.backend.clone(),
            percent: candidate.percent,
            test_from: candidate.test_from.clone(),
        }));
    }

    async fn drop_candidate(&self) -> Option<String> {
        let held = self.inner.lock().await.held.take();
        self.router.set_candidate(None);
        let (running, candidate) = held?;
        running.backend.drained(self.process.drain_timeout).await;
        running.process.stop().await;
        Some(candidate.release)
    }

    /// Saves after a maintenance change.
    pub async fn persist(&self) -> Result<(), AgentError> {
        self.save().await
    }

    /// Keeps a duplicate of the public listener for a later handover.
    pub fn keep_listener(&self, listener: &tokio::net::TcpListener) -> std::io::Result<()> {
        use std::os::fd::AsFd;
        let duplicate = listener.as_fd().try_clone_to_owned()?;
        *self.public.lock().expect("never poisoned") = Some(duplicate);
        Ok(())
    }

    /// Sends the public listener to a new agent at `socket`, then drains.
    pub fn hand_over(&self, socket: &std::path::Path) -> Result<(), AgentError> {
        use std::os::fd::AsFd;
        let public = self.public.lock().expect("never poisoned");
        let fd = public
            .as_ref()
            .ok_or_else(|| AgentError::Remote("this agent has no listener to hand over".into()))?;
        crate::handover::send_listener(socket, fd.as_fd()).map_err(|source| AgentError::Io {
            action: "cannot send the listener to",
            path: socket.to_owned(),
            source,
        })?;
        tracing::info!("listener handed over; draining");
        self.handed_over.send_replace(true);
        Ok(())
    }

    /// Resolves once the listener was handed to a new agent.
    pub async fn handed_over(&self) {
        let mut receiver = self.handed_over.subscribe();
        let _ = receiver.wait_for(|handed| *handed).await;
    }

    /// Makes `release` live: reuses it if warm, else starts it and waits for
    /// its health check. Only then is the route swapped and `current`
    /// updated; the old release drains and stays warm for `rollback_window`.
    pub async fn activate(
        self: &Arc<Self>,
        release: &str,
        watch: bool,
    ) -> Result<Activated, AgentError> {
        self.switch(release, watch).await
    }

    /// Switches to `release`; `watch` arms the after-switch watcher (not for
    /// the agent's own automatic rollbacks, which must not ping-pong).
    async fn switch(self: &Arc<Self>, release: &str, watch: bool) -> Result<Activated, AgentError> {
        let started = Instant::now();
        let _turn = self.activation.lock().await;
        let (from, warm) = {
            let mut inner = self.inner.lock().await;
            let from = inner
                .live
                .as_ref()
                .map(|live| live.backend.release().to_owned());
            if from.as_deref() == Some(release) {
                return Ok(Activated {
                    release: release.to_owned(),
                    from,
                    instant: true,
                    switch_ms: 0,
                });
            }
            let warm = inner
                .warm
                .remove(release)
                .map(|(running, _)| running)
                .filter(|running| running.process.exited().is_none());
            (from, warm)
        };
        // A held candidate is already running and healthy: promote it as is.
        let warm = match warm {
            Some(running) => Some(running),
            None => {
                let mut inner = self.inner.lock().await;
                let is_held = inner
                    .held
                    .as_ref()
                    .is_some_and(|(_, candidate)| candidate.release == release);
                is_held
                    .then(|| inner.held.take())
                    .flatten()
                    .map(|(running, _)| running)
            }
        };
        let instant = warm.is_some();
        let mut candidate = match warm {
            Some(running) => running,
            None => self.start_ready(release, from.clone()).await?,
        };
        let watching = watch && from.is_some() && !self.process.watch.is_zero();
        candidate.watched_until = watching.then(|| crate::clock::instant_after(self.process.watch));
        let mut inner = self.inner.lock().await;
        inner
            .retired
            .retain(|backend| !Arc::ptr_eq(backend, &candidate.backend));
        let old = inner.live.replace(candidate.clone());
        self.router.set_live(candidate.backend.clone());
        if self
            .router
            .candidate()
            .is_some_and(|steering| steering.backend.release() == release)
        {
            self.router.set_candidate(None);
        }
        let switch_ms = started.elapsed().as_millis() as u64;
        self.site.switch_to(release)?;
        tracing::info!(release, from = ?from, instant, switch_ms, "switched");
        self.watch_crashes(candidate.clone());
        if let (true, Some(from)) = (watching, from.clone()) {
            self.watch_after_switch(candidate, from);
        }
        if let Some(old) = old {
            let until = crate::clock::timestamp_after(self.process.rollback_window);
            inner.retired.push(old.backend.clone());
            inner
                .warm
                .insert(old.backend.release().to_owned(), (old.clone(), until));
            self.expire_later(old, until);
        }
        let evicted = inner.evict_warm(self.process.max_warm);
        drop(inner);
        for old in evicted {
            self.stop_after_drain(old);
        }
        self.save().await?;
        Ok(Activated {
            release: release.to_owned(),
            from,
            instant,
            switch_ms,
        })
    }

    /// Starts `release` and waits until it is healthy; on failure stops it.
    async fn start_ready(
        &self,
        release: &str,
        live: Option<String>,
    ) -> Result<Running, AgentError> {
        let process = Arc::new(self.start(release).await?);
        // Recorded before its health check: an agent killed from here on
        // leaves a record its successor stops it by.
        self.inner.lock().await.track(&process);
        self.save_or_warn().await;
        let ready = process
            .wait_ready(
                &self.process.health_path,
                self.process.healthy_after,
                self.process.health_timeout,
            )
            .await;
        if let Err(problem) = ready {
            let log_tail = process.log_tail(20);
            process.stop().await;
            self.save_or_warn().await;
            return Err(AgentError::NotReady {
                release: release.to_owned(),
                problem,
                live,
                log_tail,
            });
        }
        self.inner.lock().await.mark_ready(&process);
        let backend = Arc::new(Backend::new(release, process.addr()));
        Ok(Running {
            process,
            backend,
            watched_until: None,
        })
    }

    async fn start(&self, release: &str) -> Result<Process, AgentError> {
        if self.process.command.is_empty() {
            return Err(AgentError::NoProcessConfig);
        }
        let dir = self.site.release_dir(release);
        // A name from the admin API becomes a path: `../x` is no release.
        if hoist_store::ReleaseId::parse(release).is_err() || !dir.is_dir() {
            return Err(AgentError::UnknownRelease(release.to_owned()));
        }
        let log = self
            .site
            .shared_dir()
            .join("log")
            .join("hoist")
            .join(format!("{release}.log"));
        let mut spec = Spec::new(release, &dir, &self.process.command, &log);
        spec.stop_signal = signal(&self.process.stop_signal);
        spec.stop_timeout = self.process.stop_timeout;
        spec.env
            .push(("HOIST_ROOT".into(), self.site.root().display().to_string()));
        // Through the `data/current` link, so a roll is seen without a restart.
        let data = self.site.data_current_link().display().to_string();
        spec.env.push(("HOIST_DATA".into(), data));
        if let Some(file) = &self.process.env_file {
            spec.env
                .extend(read_env_file(&self.site.root().join(file))?);
        }
        Process::start(spec).await.map_err(|source| AgentError::Io {
            action: "cannot start the app in",
            path: dir,
            source,
        })
    }

    /// Watches `candidate` for `[process] watch`; rolls back to `from` on its own
    /// if the process exits or its 5xx rate is too high.
    fn watch_after_switch(self: &Arc<Self>, candidate: Running, from: String) {
        let agent = Arc::clone(self);
        let (window, max_error_rate) = (self.process.watch, self.process.max_error_rate);
        tokio::spawn(async move {
            let started = jiff::Timestamp::now();
            let Some(reason) = crate::watch::problem(
                &candidate.process,
                &candidate.backend,
                window,
                max_error_rate,
            )
            .await
            else {
                return;
            };
            // Killed by a data reload signal: a failed data roll, not bad code.
            if agent.reloading.owns(&candidate.process) {
                return;
            }
            let still_live = agent
                .inner
                .lock()
                .await
                .live
                .as_ref()
                .is_some_and(|live| Arc::ptr_eq(&live.process, &candidate.process));
            if !still_live {
                return;
            }
            let bad = candidate.backend.release().to_owned();
            tracing::warn!(%bad, restored = %from, %reason, "automatic rollback");
            let switched: std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<Activated, AgentError>> + Send>,
            > = Box::pin(agent.switch(&from, false));
            match switched.await {
                Ok(_) => {
                    crate::watch::record(&agent, &bad, &from, &reason, started);
                    agent.inner.lock().await.last_auto_rollback =
                        Some(crate::watch::describe(&bad, &from, &reason));
                }
                Err(error) => tracing::error!(%bad, %error, "automatic rollback failed"),
            }
        });
    }

    /// The live release's backend, if one is live.
    async fn live_backend(&self) -> Option<Arc<Backend>> {
        self.inner
            .lock()
            .await
            .live
            .as_ref()
            .map(|live| live.backend.clone())
    }

    /// The router this agent steers.
    pub(crate) fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// How long drains may take.
    pub(crate) fn drain_timeout(&self) -> Duration {
        self.process.drain_timeout
    }

    /// The site this agent serves.
    pub(crate) fn site(&self) -> &Site {
        &self.site
    }

    /// Restarts the live process if it dies while live, with backoff; gives
    /// up after repeated crashes rather than restart forever.
    fn watch_crashes(self: &Arc<Self>, running: Running) {
        let agent = Arc::clone(self);
        tokio::spawn(async move {
            let mut current = running;
            let mut crashes: Vec<Instant> = Vec::new();
            loop {
                let status = current.process.wait_exit().await;
                // A data reload handles the exits it caused (agent/data.rs).
                if agent.reloading.owns(&current.process) {
                    return;
                }
                let mut inner = agent.inner.lock().await;
                let still_live = inner
                    .live
                    .as_ref()
                    .is_some_and(|live| Arc::ptr_eq(&live.process, &current.process));
                // During the watch window the watcher rolls back instead of restarting.
                let watcher_decides = current
                    .watched_until
                    .is_some_and(|until| Instant::now() < until);
                if !still_live || watcher_decides {
                    return;
                }
                crashes.retain(|at| at.elapsed() < Duration::from_secs(60));
                crashes.push(Instant::now());
                let release = current.backend.release().to_owned();
                if crashes.len() > 5 {
                    tracing::error!(%release, %status, "crash loop: not restarting again");
                    let tail = current.process.log_tail(20);
                    crate::watch::record_crash_loop(
                        &agent,
                        &release,
                        &format!(
                            "crashed {} times within a minute, last {status}\n{tail}",
                            crashes.len()
                        ),
                    );
                    return;
                }
                tracing::warn!(%release, %status, attempt = crashes.len(), "live process exited; restarting");
                drop(inner);
                tokio::time::sleep(Duration::from_millis(250 << crashes.len().min(5))).await;
                match agent.start_ready(&release, Some(release.clone())).await {
                    Ok(restarted) => {
                        inner = agent.inner.lock().await;
                        agent.router.set_live(restarted.backend.clone());
                        inner.live = Some(restarted.clone());
                        drop(inner);
                        let _ = agent.save().await;
                        current = restarted;
                    }
                    Err(error) => tracing::error!(%release, %error, "restart failed"),
                }
            }
        });
    }

    /// Stops every process (agent shutdown).
    pub async fn stop_all(&self) {
        let mut inner = self.inner.lock().await;
        let mut all: Vec<Running> = inner
            .warm
            .drain()
            .map(|(_, (running, _))| running)
            .collect();
        all.extend(inner.live.take());
        all.extend(inner.held.take().map(|(running, _)| running));
        self.router.clear();
        self.router.set_candidate(None);
        drop(inner);
        // Requests, streams and tunnels still open finish first, up to the drain timeout.
        for running in &all {
            running.backend.drained(self.process.drain_timeout).await;
        }
        for running in all {
            running.process.stop().await;
        }
        // After a handover the state file belongs to the new agent.
        if !*self.handed_over.borrow() {
            self.forget_gone_inherited().await;
            let state = State {
                live: self.site.live().ok().flatten(),
                // What is still running: a previous agent's children not yet stopped.
                children: self.inner.lock().await.records(),
                ..State::default()
            };
            let _ = state::save(&self.site, &state);
        }
    }

    /// The agent's view for `hoist status`.
    pub async fn status(&self) -> AgentStatus {
        let effective = self.maintenance.lock().expect("never poisoned").effective();
        let inner = self.inner.lock().await;
        let info = |running: &Running, until: Option<jiff::Timestamp>| ProcessInfo {
            release: running.backend.release().to_owned(),
            port: running.process.addr().port(),
            pid: running.process.pid(),
            until,
        };
        let mut backends: Vec<&Arc<Backend>> = inner.retired.iter().collect();
        backends.extend(inner.live.as_ref().map(|live| &live.backend));
        backends.extend(inner.held.as_ref().map(|(running, _)| &running.backend));
        AgentStatus {
            pid: std::process::id(),
            listen: self.listen.clone(),
            live: inner.live.as_ref().map(|live| info(live, None)),
            warm: inner
                .warm
                .values()
                .map(|(running, until)| info(running, Some(*until)))
                .collect(),
            in_flight: backends.iter().map(|backend| backend.in_flight()).sum(),
            releases: backends
                .iter()
                .map(|backend| stats_json(&backend.stats()))
                .collect(),
            candidate: inner.held.as_ref().map(|(_, candidate)| candidate.clone()),
            backends: self
                .router
                .members()
                .map(|members| members.all().iter().map(|member| member.info()).collect())
                .unwrap_or_default(),
            pause: self.router.paused_for().map(|left| crate::PauseInfo {
                remaining_ms: left.as_millis() as u64,
                held: self.router.held(),
            }),
            maintenance: effective.0,
            maintenance_source: effective.1.map(str::to_owned),
            last_auto_rollback: inner.last_auto_rollback.clone(),
        }
    }

    async fn save(&self) -> Result<(), AgentError> {
        if *self.handed_over.borrow() {
            return Ok(());
        }
        self.forget_gone_inherited().await;
        let mut inner = self.inner.lock().await;
        let state = State {
            live: inner
                .live
                .as_ref()
                .map(|live| live.backend.release().to_owned()),
            warm: inner
                .warm
                .iter()
                .map(|(release, (_, until))| Warm {
                    release: release.clone(),
                    until: *until,
                })
                .collect(),
            children: inner.records(),
            pids: Vec::new(),
            paused_until: self.router.paused_for().map(crate::clock::timestamp_after),
            held: inner.held.as_ref().map(|(_, candidate)| candidate.clone()),
            maintenance: self
                .maintenance
                .lock()
                .expect("never poisoned")
                .command
                .clone(),
        };
        state::save(&self.site, &state)
    }

    /// Saves where a failure must not stop the work at hand (starting or
    /// stopping a process): the next save catches up.
    async fn save_or_warn(&self) {
        if let Err(error) = self.save().await {
            tracing::warn!(%error, "cannot save the agent state");
        }
    }
}

fn signal(name: &str) -> nix::sys::signal::Signal {
    use nix::sys::signal::Signal;
    match name.trim_start_matches("SIG") {
        "QUIT" => Signal::SIGQUIT,
        "INT" => Signal::SIGINT,
        "HUP" => Signal::SIGHUP,
        "USR1" => Signal::SIGUSR1,
        "USR2" => Signal::SIGUSR2,
        _ => Signal::SIGTERM,
    }
}

/// `KEY=value` lines; `#` comments and blank lines are skipped. The file
/// holds secrets: one every local user can read is refused, naming the fix.
fn read_env_file(path: &std::path::Path) -> Result<Vec<(String, String)>, AgentError> {
    let text = hoist_site::read_secret(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            (
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            )
        })
        .collect())
}

fn replace_if_changed<T: PartialEq>(slot: &mut T, value: T) -> bool {
    let changed = *slot != value;
    if changed {
        *slot = value;
    }
    changed
}
