//! The live process exiting on its own: restarted with backoff, and given
//! up on (recorded in the ledger as a failed release) after a crash loop.

use super::{Releases, Running};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// More exits than this within [`LOOP_WINDOW`] is a crash loop.
const MAX_CRASHES: usize = 5;
/// The window crashes are counted in.
const LOOP_WINDOW: Duration = Duration::from_secs(60);

impl Releases {
    /// Restarts the live process if it dies while live, with backoff; gives
    /// up after repeated crashes rather than restart forever.
    pub(super) fn watch_crashes(self: &Arc<Self>, running: Running) {
        let releases = Arc::clone(self);
        self.spawn_until_shutdown(async move {
            let mut current = running;
            let mut crashes: Vec<Instant> = Vec::new();
            loop {
                let status = current.process.wait_exit().await;
                // A data reload handles the exits it caused (`crate::agent::data`);
                // after a handover the successor runs the release.
                if releases.reloading.owns(&current.process) || releases.is_handed_over() {
                    return;
                }
                let still_live = releases.is_live(&current);
                // During the watch window the watcher rolls back instead of restarting.
                let watcher_decides = current
                    .watched_until
                    .is_some_and(|until| Instant::now() < until);
                if !still_live || watcher_decides {
                    return;
                }
                crashes.retain(|at| at.elapsed() < LOOP_WINDOW);
                crashes.push(Instant::now());
                let release = current.release().to_owned();
                if crashes.len() > MAX_CRASHES {
                    tracing::error!(%release, %status, "crash loop: not restarting again");
                    let failure = format!(
                        "crashed {} times within a minute, last {status}\n{}",
                        crashes.len(),
                        current.process.log_tail(20)
                    );
                    releases.record_crash_loop(&release, failure).await;
                    return;
                }
                tracing::warn!(%release, %status, attempt = crashes.len(), "live process exited; restarting");
                tokio::time::sleep(Duration::from_millis(250 << crashes.len().min(5))).await;
                match releases.restart_crashed(&current).await {
                    Ok(Some(restarted)) => current = restarted,
                    Ok(None) => return,
                    Err(error) => tracing::error!(%release, %error, "restart failed"),
                }
            }
        });
    }

    /// Starts `crashed`'s release again and makes it live, unless a switch
    /// made something else live meanwhile (then `None`).
    pub(super) async fn restart_crashed(
        self: &Arc<Self>,
        crashed: &Running,
    ) -> Result<Option<Running>, crate::AgentError> {
        let restarted = self.restart_crashed_once(crashed).await;
        match &restarted {
            Ok(Some(_)) => self.events.restarted(true),
            Ok(None) => {}
            Err(_) => self.events.restarted(false),
        }
        restarted
    }

    async fn restart_crashed_once(
        self: &Arc<Self>,
        crashed: &Running,
    ) -> Result<Option<Running>, crate::AgentError> {
        let _turn = self.activation.lock().await;
        self.refuse_if_shutting_down()?;
        let release = crashed.release().to_owned();
        if !self.is_live(crashed) {
            return Ok(None);
        }
        let restarted = self.start_ready(&release, Some(release.clone())).await?;
        {
            let mut inner = self.inner();
            self.router.set_live(restarted.backend.clone());
            inner.live = Some(restarted.clone());
        }
        self.save();
        Ok(Some(restarted))
    }
}
