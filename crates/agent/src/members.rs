//! Static backends (`[[proxy.backend]]`): resolution, active health checks, drain.

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

/// Checks every member's health path for as long as the agent runs.
pub(crate) fn follow_health(
    agent: &Arc<Agent>,
    members: Arc<Members>,
    configured: Vec<StaticBackend>,
) {
    for (member, backend) in members.all().iter().cloned().zip(configured) {
        let shutdown = agent.shutdown_token().clone();
        let agent = Arc::downgrade(agent);
        tokio::spawn(async move {
            let url = format!(
                "{}{}",
                backend.url.trim_end_matches('/'),
                backend.health_path
            );
            let mut failures = 0;
            while agent.upgrade().is_some() {
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

    /// Stops new requests to `url` and waits until its in-flight ones finish.
    pub async fn drain(&self, url: &str) -> Result<Drained, AgentError> {
        let member = self.member(url)?;
        let started = Instant::now();
        member.set_draining(true);
        let empty = member.backend.drained(self.drain_timeout()).await;
        Ok(Drained {
            backend: url.to_owned(),
            empty,
            waited_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Sends requests to `url` again.
    pub fn undrain(&self, url: &str) -> Result<(), AgentError> {
        self.member(url)?.set_draining(false);
        Ok(())
    }
}
