//! Static backends (`[[proxy.backend]]`): resolution, active health checks, drain.
//!
//! What the agent learns about a member at run time (its health checks
//! failed, `hoist drain` took it out) is saved in `agent-state.json`. A
//! successor (after `kill -9`, `--upgrade` or USR2) puts that back and
//! probes every member once before it serves ([`put_back`]): a backend that
//! was down stays out until its health check passes again, and a drained
//! one until `hoist undrain`.

use crate::state::BackendRecord;
use crate::{Agent, AgentError};
use hoist_config::StaticBackend;
use hoist_proxy::{Backend, Member, Members};
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often each member's health path is checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Failed checks in a row that take a member out of rotation.
const FAILS_TO_MARK_DOWN: u32 = 2;

/// Builds the pool; every URL must resolve now, so a typo fails at start.
pub(crate) fn build(configured: &[StaticBackend]) -> Result<Option<Members>, AgentError> {
    if configured.is_empty() {
        return Ok(None);
    }
    let mut members = Vec::new();
    for (index, backend) in configured.iter().enumerate() {
        let authority = backend
            .url
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let addr = authority
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                AgentError::Remote(format!(
                    "backend `{}` does not resolve to an address",
                    backend.url
                ))
            })?;
        // Responses name the member by its place in the config, never by
        // its address: a client has no business knowing the network behind.
        let label = format!("backend-{}", index + 1);
        members.push(Arc::new(Member::new(
            Arc::new(Backend::new(&label, addr)),
            &backend.url,
            backend.weight,
        )));
    }
    Ok(Some(Members::new(members)))
}

/// What `agent-state.json` keeps of the members: the ones down or drained.
pub(crate) fn records(members: &Members) -> Vec<BackendRecord> {
    members
        .all()
        .iter()
        .filter(|member| !member.is_healthy() || member.is_draining())
        .map(|member| BackendRecord {
            url: member.url.clone(),
            down: !member.is_healthy(),
            draining: member.is_draining(),
        })
        .collect()
}

/// Puts back what the previous agent knew (`saved`), then probes every
/// member once, all at once (each probe is bounded): the agent serves only
/// after this returns, so it never sends a request to a member it has not
/// seen pass a health check since it was known down.
pub(crate) async fn put_back(
    members: &Members,
    saved: &[BackendRecord],
    configured: &[StaticBackend],
) {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    let mut probes = tokio::task::JoinSet::new();
    for (member, backend) in members.all().iter().zip(configured) {
        if let Some(record) = saved.iter().find(|record| same(&record.url, &member.url)) {
            member.set_draining(record.draining);
            member.set_healthy(!record.down);
        }
        let (member, url) = (member.clone(), health_url(backend));
        probes.spawn(async move {
            let probed = hoist_supervisor::probe(&url).await;
            if let Err(problem) = &probed {
                tracing::warn!(backend = %member.url, %problem, "backend down at start");
            }
            member.set_healthy(probed.is_ok());
        });
    }
    while probes.join_next().await.is_some() {}
}

fn health_url(backend: &StaticBackend) -> String {
    format!(
        "{}{}",
        backend.url.trim_end_matches('/'),
        backend.health_path
    )
}

/// Checks every member's health path for as long as the agent runs.
pub(crate) fn follow_health(
    agent: &Arc<Agent>,
    members: Arc<Members>,
    configured: Vec<StaticBackend>,
) {
    for (member, backend) in members.all().iter().cloned().zip(configured) {
        let shutdown = agent.shutdown_token().clone();
        let spawner = Arc::clone(agent);
        let agent = Arc::downgrade(agent);
        spawner.spawn_loop(async move {
            let url = health_url(&backend);
            // A member that starts out down (as [`put_back`] found it) needs
            // a passing check to come back, not just one failure fewer.
            let mut failures = if member.is_healthy() {
                0
            } else {
                FAILS_TO_MARK_DOWN
            };
            while agent.upgrade().is_some() {
                let was_healthy = member.is_healthy();
                match hoist_supervisor::probe(&url).await {
                    Ok(()) => {
                        failures = 0;
                        member.set_healthy(true);
                    }
                    Err(problem) => {
                        failures += 1;
                        if failures == FAILS_TO_MARK_DOWN {
                            tracing::warn!(backend = %backend.url, %problem, "backend marked down");
                        }
                        member.set_healthy(failures < FAILS_TO_MARK_DOWN);
                    }
                }
                // Saved on every change, so a successor knows which are down.
                if member.is_healthy() != was_healthy {
                    if let Some(agent) = agent.upgrade() {
                        agent.save_or_warn();
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(CHECK_EVERY) => {}
                }
            }
        });
    }
}

/// What `hoist drain` reports.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Drained {
    /// The backend.
    pub backend: String,
    /// Whether its in-flight requests all finished within the drain timeout.
    pub empty: bool,
    /// How long that took, ms.
    pub waited_ms: u64,
}

impl Agent {
    fn member(&self, url: &str) -> Result<Arc<Member>, AgentError> {
        let members = self
            .router()
            .members()
            .ok_or_else(|| AgentError::Remote("no `[[proxy.backend]]` is configured".into()))?;
        let wanted = url.trim_end_matches('/');
        members
            .all()
            .iter()
            .find(|member| member.url.trim_end_matches('/') == wanted)
            .cloned()
            .ok_or_else(|| {
                AgentError::Remote(format!("`{url}` is not one of the configured backends"))
            })
    }

    /// Stops new requests to `url` and waits until its in-flight ones
    /// finish. The last member that gets requests is drained only with
    /// `force`: without it every request would get 503.
    pub async fn drain(&self, url: &str, force: bool) -> Result<Drained, AgentError> {
        let member = self.member(url)?;
        if !force && member.usable() {
            let members = self.router().members().unwrap_or_default();
            let another = members
                .all()
                .iter()
                .any(|other| !Arc::ptr_eq(other, &member) && other.usable());
            if !another {
                return Err(AgentError::LastHealthyBackend {
                    backend: url.to_owned(),
                });
            }
        }
        let started = Instant::now();
        member.set_draining(true);
        // Saved before the wait: an agent killed meanwhile keeps it drained.
        self.save_or_warn();
        let empty = member.backend.drained(self.drain_timeout()).await;
        Ok(Drained {
            backend: url.to_owned(),
            empty,
            waited_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Sends requests to `url` again.
    pub async fn undrain(&self, url: &str) -> Result<(), AgentError> {
        self.member(url)?.set_draining(false);
        self.save()
    }
}
