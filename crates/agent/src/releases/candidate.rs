//! A candidate held beside the live release (`deploy --hold`): test
//! traffic, then a canary share, then a promote (a switch) or an abort.

use super::{Releases, Running};
use crate::{AgentError, Candidate};
use std::sync::Arc;

impl Releases {
    /// Starts `release` beside the live one and health-checks it; only test
    /// traffic reaches it until [`Releases::canary`] or a promote.
    pub(crate) async fn hold(
        self: &Arc<Self>,
        release: &str,
        test_from: Vec<String>,
    ) -> Result<(), AgentError> {
        let _turn = self.activation.lock().await;
        self.refuse_if_shutting_down()?;
        self.drop_candidate().await;
        let live = self.live().map(|live| live.release().to_owned());
        // A warm release is already running and healthy: held as it is, so
        // a release never runs twice (and a promote takes the held one).
        let warm = self.inner().warm.remove(release);
        let running = match warm.filter(|(running, _)| running.process.exited().is_none()) {
            Some((running, _)) => running,
            None => self.start_ready(release, live).await?,
        };
        let candidate = Candidate {
            release: release.to_owned(),
            percent: 0,
            test_from,
        };
        self.steer(&running, &candidate);
        self.inner().held = Some((running, candidate));
        self.save();
        Ok(())
    }

    /// Sends `percent` of clients (sticky) to the held candidate.
    pub(crate) fn canary(&self, percent: u8) -> Result<Candidate, AgentError> {
        let (running, candidate) = {
            let mut inner = self.inner();
            let Some((running, candidate)) = inner.held.as_mut() else {
                return Err(AgentError::Remote(
                    "no candidate is held; deploy one with `hoist deploy --hold` first".into(),
                ));
            };
            candidate.percent = percent.min(100);
            (running.clone(), candidate.clone())
        };
        self.steer(&running, &candidate);
        self.save();
        Ok(candidate)
    }

    /// Stops steering to the held candidate and stops it; returns its release.
    pub(crate) async fn abort(&self) -> Result<Option<String>, AgentError> {
        let _turn = self.activation.lock().await;
        let release = self.drop_candidate().await;
        self.save();
        Ok(release)
    }

    fn steer(&self, running: &Running, candidate: &Candidate) {
        self.router.set_candidate(Some(hoist_proxy::Steering {
            backend: running.backend.clone(),
            percent: candidate.percent,
            test_from: candidate.test_from.clone(),
        }));
    }

    async fn drop_candidate(&self) -> Option<String> {
        let held = self.inner().held.take();
        self.router.set_candidate(None);
        let (running, candidate) = held?;
        running.backend.drained(running.spec.drain_timeout).await;
        running.process.stop().await;
        Some(candidate.release)
    }
}
