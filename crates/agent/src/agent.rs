//! The agent: a composition of the owners of a site's live state.
//!
//! | state | owner |
//! |---|---|
//! | live, warm and held releases, their processes, `current` | [`Releases`] (`crate::releases`) |
//! | maintenance (command, flag file, schedule) | `maintenance` sources, here |
//! | pause, steering, static backends | the [`Router`] |
//! | the public listener and its handover | here |
//! | `agent-state.json` | [`Agent::save`], composed from every owner |
//! | switch, rollback and restart counts (`/metrics`) | `Releases`, read through `Agent::events` |
//!
//! Every background task listens to one shutdown token, cancelled by
//! [`Agent::stop_all`].

mod data;

pub use data::{DataReloaded, DataRoll};

use crate::releases::{Activated, Persist, Predecessor, Releases};
use crate::state::{self, State};
use crate::status::AgentStatus;
use crate::AgentError;
use hoist_config::{Config, Process as ProcessConfig};
use hoist_proxy::Router;
use hoist_site::Site;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The agent for one site.
#[derive(Debug)]
pub struct Agent {
    site: Site,
    router: Arc<Router>,
    listen: String,
    /// The releases and their processes.
    releases: Arc<Releases>,
    /// Cancelled when the agent shuts down; every background task stops on it.
    shutdown: CancellationToken,
    /// The traffic owners' loops (flag file, windows, backend health), so
    /// a shutdown waits until they ended.
    tasks: tokio_util::task::TaskTracker,
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
}

impl Agent {
    /// An agent for `site` running releases as `config` says (a release's
    /// own `[process]` wins for the app-level keys, see `docs/config.md`).
    pub fn new(
        site: Site,
        config: &Config,
        router: Arc<Router>,
        listen: String,
    ) -> Result<Arc<Agent>, AgentError> {
        let process = match (&config.process, config.proxy.backend.is_empty()) {
            // `[process]` with only host keys (`env_file`): nothing to run.
            (Some(process), true) if process.command.is_empty() => {
                return Err(AgentError::NoProcessConfig)
            }
            (Some(process), _) => process.clone(),
            // Balancing static backends needs no app of our own.
            (None, false) => ProcessConfig::without_app(),
            (None, true) => return Err(AgentError::NoProcessConfig),
        };
        router.set_members(crate::members::build(&config.proxy.backend)?);
        router.set_data_version(data::live_version(&site).as_deref());
        let shutdown = CancellationToken::new();
        Ok(Arc::new_cyclic(|agent: &Weak<Agent>| {
            let agent = agent.clone();
            let persist =
                Persist::new(move || agent.upgrade().map_or(Ok(()), |agent| agent.save()));
            Agent {
                releases: Arc::new(Releases::new(
                    site.clone(),
                    router.clone(),
                    process,
                    persist,
                    shutdown.clone(),
                )),
                site,
                router,
                listen,
                shutdown,
                tasks: tokio_util::task::TaskTracker::new(),
                public: std::sync::Mutex::new(None),
                handed_over: tokio::sync::watch::channel(false).0,
                maintenance: std::sync::Mutex::new(crate::maintenance::Sources::default()),
                maintenance_config: config.maintenance.clone(),
                backends: config.proxy.backend.clone(),
                data: config.data.clone(),
            }
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
        self.releases.inherit(saved.children.clone(), predecessor);
        // Every traffic rule is in force before the first request is served.
        self.set_maintenance(saved.maintenance.clone());
        crate::maintenance::read_now(self, &self.maintenance_config.window);
        if let Some(until) = saved.paused_until {
            // A pause outlives a restart, with what is left of its `--max`.
            let left = Duration::try_from(until.duration_since(jiff::Timestamp::now()))
                .unwrap_or_default();
            self.router.pause(left);
        }
        if let Some(members) = self.router.members() {
            crate::members::put_back(&members, &saved.backends, &self.backends).await;
        }
        crate::maintenance::follow_flag_file(self);
        if let Some(members) = self.router.members() {
            crate::members::follow_health(self, members, self.backends.clone());
        }
        crate::maintenance::follow_schedule(self, self.maintenance_config.window.clone());
        if let Some(live) = self.site.live()?.filter(|_| self.releases.runs_apps()) {
            self.activate(&live, false).await?;
            // A watch the predecessor began goes on here, for what is left of it.
            if let Some(watch) = saved.watch.as_ref().filter(|watch| watch.release == live) {
                self.releases.rearm_watch(watch);
            }
        }
        // A candidate that no longer starts is dropped, not the whole restore.
        if let Some(candidate) = saved.held {
            let held = self.hold(&candidate.release, candidate.test_from).await;
            let steered = match held {
                Ok(()) => self.canary(candidate.percent).await.map(drop),
                Err(error) => Err(error),
            };
            if let Err(error) = steered {
                tracing::warn!(release = %candidate.release, %error, "could not restore the held candidate; `hoist deploy --hold` it again");
            }
        }
        let now = jiff::Timestamp::now();
        // `current` may have moved while no agent ran (a file-level rollback):
        // the live release, or the held one, is never also warm.
        let running = [
            self.site.live().ok().flatten(),
            self.releases
                .view()
                .candidate
                .map(|candidate| candidate.release),
        ];
        let restorable = |warm: &&state::Warm| {
            warm.until > now && !running.iter().flatten().any(|id| *id == warm.release)
        };
        for warm in saved.warm.iter().filter(restorable) {
            if let Err(error) = self.releases.start_warm(&warm.release, warm.until).await {
                tracing::warn!(release = %warm.release, %error, "could not restore a warm release");
            }
        }
        self.save()
    }

    /// Switches maintenance on (`Some`) or off (`None`) by command, persisted.
    pub fn set_maintenance(&self, maintenance: Option<hoist_proxy::Maintenance>) {
        self.update_maintenance(|sources| {
            sources.command = maintenance;
            true
        });
    }

    /// Reads the flag file and the windows now, rather than at the next
    /// poll: after `hoist maint` changed one, what it prints is already so.
    pub(crate) fn refresh_maintenance(&self) {
        crate::maintenance::read_now(self, &self.maintenance_config.window);
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
        let paused = self.releases.hold_requests(max).await;
        self.save()?;
        Ok(paused)
    }

    /// Releases held requests.
    pub async fn resume(&self) -> Result<(), AgentError> {
        self.router.resume();
        self.save()
    }

    /// The flag file that turns maintenance on, as existing scripts `touch`
    /// it: relative to the site root (the config refuses anything else).
    pub(crate) fn flag_file_relative(&self) -> std::path::PathBuf {
        self.maintenance_config
            .flag_file
            .clone()
            .unwrap_or_else(|| "maintenance".into())
    }

    /// Makes `release` live: reuses it if warm or held, else starts it with
    /// its own `[process]` and waits for its health check. Then `current`
    /// is written, and only then the route moves; the old release drains
    /// and stays warm for `rollback_window`. `watch` arms the after-switch
    /// watch (deploys and promotes).
    pub async fn activate(
        self: &Arc<Self>,
        release: &str,
        watch: bool,
    ) -> Result<Activated, AgentError> {
        self.releases.switch(release, watch).await
    }

    /// Starts `release` beside the live one and health-checks it; only test
    /// traffic reaches it until [`Agent::canary`] or a promote.
    pub async fn hold(
        self: &Arc<Self>,
        release: &str,
        test_from: Vec<String>,
    ) -> Result<(), AgentError> {
        self.releases.hold(release, test_from).await
    }

    /// Sends `percent` of clients (sticky) to the held candidate.
    pub async fn canary(&self, percent: u8) -> Result<crate::Candidate, AgentError> {
        self.releases.canary(percent)
    }

    /// Starts a fresh process of the live release and swaps it in once
    /// healthy (`hoist restart`): a restart nobody sees.
    pub async fn restart(&self) -> Result<String, AgentError> {
        self.releases.restart_live().await
    }

    /// Stops steering to the held candidate and stops it; returns its release.
    pub async fn abort(&self) -> Result<Option<String>, AgentError> {
        self.releases.abort().await
    }

    /// Stops the warm processes of `release`; false when it was not warm.
    pub async fn retire(self: &Arc<Self>, release: &str) -> bool {
        self.releases.retire_warm(release).await
    }

    /// Saves after a maintenance change.
    pub async fn persist(&self) -> Result<(), AgentError> {
        self.save()
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
            cause: source,
        })?;
        tracing::info!("listener handed over; draining");
        self.releases.hand_over();
        self.handed_over.send_replace(true);
        Ok(())
    }

    /// Resolves once the listener was handed to a new agent.
    pub async fn handed_over(&self) {
        let mut receiver = self.handed_over.subscribe();
        let _ = receiver.wait_for(|handed| *handed).await;
    }

    /// What the agent did, counted for `/metrics`.
    pub(crate) fn events(&self) -> &crate::metrics::Events {
        self.releases.events()
    }

    /// Every backend that counts requests: the releases' and the static
    /// `[[proxy.backend]]` ones.
    pub(crate) fn backends(&self) -> Vec<Arc<hoist_proxy::Backend>> {
        let mut backends = self.releases.backends();
        if let Some(members) = self.router.members() {
            backends.extend(members.all().iter().map(|member| member.backend.clone()));
        }
        backends
    }

    /// The release serving traffic, if any.
    pub(crate) fn live_release(&self) -> Option<String> {
        self.releases
            .live_backend()
            .map(|backend| backend.release().to_owned())
    }

    /// The router this agent steers.
    pub(crate) fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// How long drains may take (the site's `drain_timeout`).
    pub(crate) fn drain_timeout(&self) -> Duration {
        self.releases.site_drain_timeout()
    }

    /// The site this agent serves.
    pub(crate) fn site(&self) -> &Site {
        &self.site
    }

    /// Runs a traffic owner's loop in the background; it must end on
    /// [`Agent::shutdown_token`], and a shutdown waits until it did.
    pub(crate) fn spawn_loop(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Cancelled when the agent shuts down: every background task stops on it.
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Stops every background task, then every process (agent shutdown).
    pub async fn stop_all(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.releases.stop_all().await;
        // After a handover the state file belongs to the new agent.
        if !*self.handed_over.borrow() {
            // The traffic rules (maintenance, pause, candidate, warm, backends)
            // stay as last saved, for the next start to put back.
            let mut state = state::load(&self.site).unwrap_or_default();
            state.live = self.site.live().ok().flatten();
            // What is still running: a previous agent's children not yet stopped.
            state.children = self.releases.leftover_children();
            let _ = state::save(&self.site, &state);
        }
    }

    /// The agent's view for `hoist status`.
    pub async fn status(&self) -> AgentStatus {
        let effective = self.maintenance.lock().expect("never poisoned").effective();
        let releases = self.releases.view();
        AgentStatus {
            pid: std::process::id(),
            listen: self.listen.clone(),
            live: releases.live,
            warm: releases.warm,
            in_flight: releases.in_flight,
            releases: releases.stats,
            candidate: releases.candidate,
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
            maintenance_sources: self.maintenance.lock().expect("never poisoned").active(),
            last_auto_rollback: releases.last_auto_rollback,
        }
    }

    /// Writes `agent-state.json`, each owner its part.
    pub(crate) fn save(&self) -> Result<(), AgentError> {
        // After a handover the file is the successor's; during a shutdown
        // the owners are emptied, and the last state saved must stay.
        if *self.handed_over.borrow() || self.shutdown.is_cancelled() {
            return Ok(());
        }
        let mut state = State {
            paused_until: self.router.paused_for().map(crate::clock::timestamp_after),
            maintenance: self
                .maintenance
                .lock()
                .expect("never poisoned")
                .command
                .clone(),
            backends: self
                .router
                .members()
                .map(|members| crate::members::records(&members))
                .unwrap_or_default(),
            ..State::default()
        };
        self.releases.save_into(&mut state);
        state::save(&self.site, &state)
    }

    /// Saves where a failure must not stop the work at hand: the next save catches up.
    pub(crate) fn save_or_warn(&self) {
        if let Err(error) = self.save() {
            tracing::warn!(%error, "cannot save the agent state");
        }
    }
}

fn replace_if_changed<T: PartialEq>(slot: &mut T, value: T) -> bool {
    let changed = *slot != value;
    if changed {
        *slot = value;
    }
    changed
}
