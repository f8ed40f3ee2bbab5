//! Warm releases: old releases kept running for an instant rollback, each
//! until its `rollback_window` closes, and never more than `max_warm` of
//! them (each is a whole running app: quick deploys must not pile them up).

use super::{Inner, Releases, Running};
use crate::AgentError;
use std::sync::Arc;
use std::time::Duration;

impl Inner {
    /// Takes the oldest warm releases (the soonest to expire) out until at
    /// most `max_warm` are left; the caller stops them.
    pub(super) fn evict_warm(&mut self, max_warm: usize) -> Vec<Running> {
        let mut evicted = Vec::new();
        while self.warm.len() > max_warm {
            let Some(oldest) = self
                .warm
                .iter()
                .min_by_key(|(_, (_, until))| *until)
                .map(|(release, _)| release.clone())
            else {
                break;
            };
            if let Some((running, _)) = self.warm.remove(&oldest) {
                tracing::info!(release = %oldest, "more warm releases than `max_warm`: stopping the oldest");
                evicted.push(running);
            }
        }
        evicted
    }
}

impl Releases {
    /// Starts `release` warm until `until` (a restart restoring its state).
    pub(crate) async fn start_warm(
        self: &Arc<Self>,
        release: &str,
        until: jiff::Timestamp,
    ) -> Result<(), AgentError> {
        let _turn = self.activation.lock().await;
        self.refuse_if_shutting_down()?;
        let running = self.start_ready(release, None).await?;
        self.keep_warm(running, until);
        Ok(())
    }

    /// Keeps `running` warm until `until`, then stops it; stops the oldest
    /// warm releases past `max_warm` at once.
    pub(super) fn keep_warm(self: &Arc<Self>, running: Running, until: jiff::Timestamp) {
        let evicted = {
            let mut inner = self.inner();
            inner
                .warm
                .insert(running.release().to_owned(), (running.clone(), until));
            inner.evict_warm(self.site_process.max_warm)
        };
        self.expire_later(running, until);
        for old in evicted {
            self.stop_after_drain(old);
        }
    }

    /// Lets `old` drain, then stops it when its rollback window closes
    /// (unless it was made live again, or evicted, meanwhile).
    fn expire_later(self: &Arc<Self>, old: Running, until: jiff::Timestamp) {
        let releases = Arc::clone(self);
        self.spawn_until_shutdown(async move {
            let drained = old.backend.drained(old.spec.drain_timeout).await;
            tracing::info!(release = old.release(), drained, "old release drained");
            let wait = until.duration_since(jiff::Timestamp::now());
            tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
            let still_warm = {
                let mut inner = releases.inner();
                let still_warm = inner.warm.get(old.release()).is_some_and(|(running, at)| {
                    Arc::ptr_eq(&running.process, &old.process) && *at == until
                });
                if still_warm {
                    inner.warm.remove(old.release());
                }
                still_warm
            };
            if still_warm {
                old.process.stop().await;
                releases.save();
            }
        });
    }

    /// Stops `release` if it is kept warm, once its requests finished (up
    /// to its drain timeout): `rollback --with-db` before it removes the
    /// expansion that release's code needs. False when it was not warm.
    pub(crate) async fn retire_warm(self: &Arc<Self>, release: &str) -> bool {
        let Some((running, _)) = self.inner().warm.remove(release) else {
            return false;
        };
        running.backend.drained(running.spec.drain_timeout).await;
        running.process.stop().await;
        self.save();
        true
    }

    /// Stops a release nobody routes to any more, once its requests,
    /// streams and tunnels have finished (up to its drain timeout).
    pub(super) fn stop_after_drain(self: &Arc<Self>, old: Running) {
        let releases = Arc::clone(self);
        self.spawn_to_end(async move {
            old.backend.drained(old.spec.drain_timeout).await;
            old.process.stop().await;
            releases.save();
        });
    }
}
