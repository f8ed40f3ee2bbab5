//! After a deploy or promote, the new release is watched for `[process]
//! watch` (its own); if it fails, the agent rolls back through
//! [`hoist_deploy::auto_rollback`]: the site lock, a journal, the ledger,
//! and a refusal when the release to go back to predates the schema. A
//! refused or failed rollback leaves the bad release serving, and says so
//! in the log, the ledger and `hoist status`, with the command to run.

use super::link::{InProcess, Log};
use super::record::{describe_rollback, Refusal};
use super::{Releases, Running};
use crate::metrics::AutoRollback;
use hoist_deploy::{DeployError, RollbackReport};
use hoist_site::{DeployLock, Site, SiteError};
use std::sync::Arc;
use std::time::Duration;

/// How often a rollback waiting for the site lock looks again.
const LOCK_RETRY: Duration = Duration::from_millis(250);

/// What to run when a rollback failed for another reason than a refusal.
const FIX: &str =
    "fix forward with a new deploy, or run `hoist rollback` once the problem above is solved";

/// How an automatic rollback ended.
enum Ended {
    /// It switched back.
    RolledBack(Box<RollbackReport>),
    /// Something else is live now (an operator acted first), or the agent
    /// is shutting down: nothing to do.
    Superseded,
}

impl Releases {
    /// Watches `candidate` after a switch from `from`; rolls back to `from`
    /// if its process exits or its 5xx rate is too high.
    pub(super) fn watch_after_switch(
        self: &Arc<Self>,
        candidate: Running,
        from: String,
        window: std::time::Duration,
    ) {
        let releases = Arc::clone(self);
        let shutdown = self.shutdown.clone();
        // Not cut short by a shutdown once a rollback began: it holds the
        // site lock and a journal, and must finish what it started.
        self.spawn_to_end(async move {
            let spec = candidate.spec.clone();
            let watched = crate::watch::problem(
                &candidate.process,
                &candidate.backend,
                window,
                spec.max_error_rate,
            );
            let reason = tokio::select! {
                () = shutdown.cancelled() => return,
                problem = watched => problem,
            };
            let Some(reason) = reason else { return };
            // Killed by a data reload signal: a failed data roll, not bad code.
            if releases.reloading.owns(&candidate.process) {
                return;
            }
            if !releases.is_live(&candidate) {
                return;
            }
            tracing::warn!(bad = candidate.release(), to = %from, %reason, "the new release fails its watch; rolling back");
            releases.roll_back(&candidate, from, reason).await;
        });
    }

    /// Rolls back from `running` (the bad release) to `to` through the deploy lifecycle, and
    /// records the outcome for `hoist status` (and a refusal in the ledger).
    async fn roll_back(self: &Arc<Self>, running: &Running, to: String, reason: String) {
        let bad = running.release().to_owned();
        if self.is_handed_over() {
            tracing::warn!(%bad, %reason, "the watch found a problem after the handover; the new agent decides");
            return;
        }
        let runtime = tokio::runtime::Handle::current();
        let releases = Arc::clone(self);
        let (bad_, to_, reason_) = (bad.clone(), to.clone(), reason.clone());
        let ended = tokio::task::spawn_blocking(move || {
            releases.auto_rollback(&bad_, &to_, &reason_, runtime)
        })
        .await;
        let refused = matches!(ended, Ok(Err(DeployError::AutoRollbackRefused { .. })));
        let (problem, fix) = match ended {
            Ok(Ok(Ended::RolledBack(report))) => {
                tracing::warn!(%bad, restored = %report.release, "rolled back automatically");
                self.inner().last_auto_rollback = Some(describe_rollback(&bad, &to, &reason));
                self.events.auto_rolled_back(AutoRollback::Done);
                return;
            }
            Ok(Ok(Ended::Superseded)) => {
                tracing::info!(%bad, "no automatic rollback: `{bad}` is no longer live");
                return;
            }
            Ok(Err(DeployError::AutoRollbackRefused { problem, fix, .. })) => (problem, fix),
            Ok(Err(other)) => (other.to_string(), FIX.to_owned()),
            Err(stopped) => (format!("the rollback stopped: {stopped}"), FIX.to_owned()),
        };
        self.events.auto_rolled_back(if refused {
            AutoRollback::Refused
        } else {
            AutoRollback::Failed
        });
        let refusal = Refusal {
            bad,
            target: to,
            reason,
            problem,
            fix,
        };
        tracing::error!(
            bad = %refusal.bad,
            target = %refusal.target,
            problem = %refusal.problem,
            fix = %refusal.fix,
            "automatic rollback did not happen; the bad release keeps serving"
        );
        self.inner().last_auto_rollback = Some(refusal.describe());
        self.record_refusal(&refusal).await;
        if running.process.exited().is_some() {
            // It stays live, so it must run: restarted as a crash would be.
            match self.restart_crashed(running).await {
                Ok(Some(restarted)) => self.watch_crashes(restarted),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(bad = %refusal.bad, %error, "restarting the live release failed");
                }
            }
        }
    }

    /// The rollback itself, on a blocking thread: waits while another
    /// operation holds the site lock (it may be waiting on this agent), for
    /// as long as `bad` is still live.
    fn auto_rollback(
        self: Arc<Self>,
        bad: &str,
        to: &str,
        reason: &str,
        runtime: tokio::runtime::Handle,
    ) -> Result<Ended, DeployError> {
        let mut context = hoist_deploy::Context::open(self.site.root())?;
        context.agent = Some(Box::new(InProcess {
            releases: Arc::clone(&self),
            runtime,
        }));
        let mut waited = false;
        loop {
            if self.shutdown.is_cancelled() || context.site.live()?.as_deref() != Some(bad) {
                return Ok(Ended::Superseded);
            }
            let tried = hoist_deploy::auto_rollback(
                &context,
                bad,
                to,
                format!("automatic: `{bad}` {reason}"),
                &Log,
            );
            match tried {
                Ok(report) => return Ok(Ended::RolledBack(Box::new(report))),
                Err(DeployError::Site(SiteError::Locked { holder, .. })) => {
                    if !waited {
                        tracing::info!(%holder, "the automatic rollback waits for the site lock");
                        waited = true;
                    }
                    std::thread::sleep(LOCK_RETRY);
                }
                // Another operation holds the site: its lock, or its
                // journal while it runs. Wait for it, then look again.
                Err(error) if held_by_another(&context.site) => {
                    if !waited {
                        tracing::info!(%error, "the automatic rollback waits for the operation holding the site");
                        waited = true;
                    }
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Whether an operation (a CLI command) holds the site lock right now.
fn held_by_another(site: &Site) -> bool {
    matches!(DeployLock::holder(site), Ok(Some(_)))
}
