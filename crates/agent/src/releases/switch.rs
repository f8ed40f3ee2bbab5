//! The switch: a healthy candidate, then `current`, then the route (see
//! the order in [`super`]); and a restart of the live release nobody sees.

use super::{Releases, Retired, Running};
use crate::AgentError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

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

/// Where a candidate came from, so a refused switch can put it back.
enum Origin {
    /// Kept warm until then.
    Warm(jiff::Timestamp),
    /// Held beside the live release, steered as it says.
    Held(crate::Candidate),
    /// Started for this switch.
    Started,
}

impl Releases {
    /// Makes `release` live: reuses it if warm or held, else starts it with
    /// its own `[process]` and waits for its health check. Then `current`
    /// is written, and only then the route moves; the old release drains
    /// and stays warm for `rollback_window`. `watch` arms the after-switch
    /// watch (deploys and promotes, never a rollback: no ping-pong).
    pub(crate) async fn switch(
        self: &Arc<Self>,
        release: &str,
        watch: bool,
    ) -> Result<Activated, AgentError> {
        let started = Instant::now();
        let _turn = self.activation.lock().await;
        self.refuse_if_shutting_down()?;
        let from = self.live().map(|live| live.release().to_owned());
        if from.as_deref() == Some(release) {
            return Ok(Activated {
                release: release.to_owned(),
                from,
                instant: true,
                switch_ms: 0,
            });
        }
        let (mut candidate, origin) = match self.take_running(release) {
            Some(found) => found,
            None => (
                self.start_ready(release, from.clone()).await?,
                Origin::Started,
            ),
        };
        let instant = !matches!(origin, Origin::Started);
        if let Err(error) = self.site.switch_to(release) {
            let kept = self.put_back(candidate, origin).await;
            return Err(AgentError::CurrentNotWritten {
                release: release.to_owned(),
                live: from,
                kept,
                cause: Box::new(error),
            });
        }
        let watching = watch && from.is_some() && !candidate.spec.watch.is_zero();
        candidate.watched_until =
            watching.then(|| crate::clock::instant_after(candidate.spec.watch));
        candidate.watched_from = from.clone().filter(|_| watching);
        let old = self.route_to(&candidate);
        let switch_ms = started.elapsed().as_millis() as u64;
        tracing::info!(release, from = ?from, instant, switch_ms, "switched");
        self.watch_crashes(candidate.clone());
        if let (true, Some(from)) = (watching, from.clone()) {
            let window = candidate.spec.watch;
            self.watch_after_switch(candidate, from, window);
        }
        if let Some(old) = old {
            let until = crate::clock::timestamp_after(self.site_process.rollback_window);
            self.keep_warm(old, until);
        }
        self.save();
        Ok(Activated {
            release: release.to_owned(),
            from,
            instant,
            switch_ms,
        })
    }

    /// Takes `release` out of the held slot or the warm set, if it runs
    /// there: the held candidate first, as the one clients are steered to.
    fn take_running(&self, release: &str) -> Option<(Running, Origin)> {
        let mut inner = self.inner();
        let is_held = inner
            .held
            .as_ref()
            .is_some_and(|(_, candidate)| candidate.release == release);
        if let Some((running, candidate)) = is_held.then(|| inner.held.take()).flatten() {
            return Some((running, Origin::Held(candidate)));
        }
        let warm = inner
            .warm
            .remove(release)
            .filter(|(running, _)| running.process.exited().is_none());
        warm.map(|(running, until)| (running, Origin::Warm(until)))
    }

    /// A refused switch: the candidate goes back where it came from, or is
    /// stopped if it was started for it. Says which.
    async fn put_back(self: &Arc<Self>, candidate: Running, origin: Origin) -> &'static str {
        match origin {
            Origin::Warm(until) => {
                self.keep_warm(candidate, until);
                "is warm again"
            }
            Origin::Held(steering) => {
                self.inner().held = Some((candidate, steering));
                "is held again"
            }
            Origin::Started => {
                candidate.process.stop().await;
                self.save();
                "was stopped"
            }
        }
    }

    /// Points the route at `candidate` and makes it the live release;
    /// returns the release it replaced, retired (draining).
    fn route_to(&self, candidate: &Running) -> Option<Running> {
        let mut inner = self.inner();
        inner
            .retired
            .retain(|retired| !Arc::ptr_eq(&retired.backend, &candidate.backend));
        let old = inner.live.replace(candidate.clone());
        self.router.set_live(candidate.backend.clone());
        let steered = self
            .router
            .candidate()
            .is_some_and(|steering| Arc::ptr_eq(&steering.backend, &candidate.backend));
        if steered {
            self.router.set_candidate(None);
        }
        if let Some(old) = &old {
            inner.retired.push(Retired {
                backend: old.backend.clone(),
                drain_timeout: old.spec.drain_timeout,
            });
        }
        old
    }

    /// Starts a fresh process of the live release, swaps it in once
    /// healthy, and drains and stops the old one: a restart nobody sees.
    /// The fresh process reads the release's `[process]` again.
    pub(crate) async fn restart_live(self: &Arc<Self>) -> Result<String, AgentError> {
        let _turn = self.activation.lock().await;
        self.refuse_if_shutting_down()?;
        let Some(release) = self.live().map(|live| live.release().to_owned()) else {
            return Ok("none (nothing live)".into());
        };
        let fresh = self.start_ready(&release, Some(release.clone())).await?;
        let old = {
            let mut inner = self.inner();
            self.router.set_live(fresh.backend.clone());
            inner.live.replace(fresh.clone())
        };
        self.watch_crashes(fresh);
        if let Some(old) = old {
            self.stop_after_drain(old);
        }
        self.save();
        Ok("restarted".into())
    }
}
