//! What the agent decides on its own goes into the site's ledger the way
//! a CLI operation's outcome does: through [`hoist_deploy::Context`], so a
//! ledger that cannot take it defers it to `ledger-pending.jsonl`.

use super::link::Log;
use super::Releases;
use hoist_ledger::{Event, Outcome, Write};

/// An automatic rollback that did not happen: why, and what to run.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    /// The release the watch found bad; it still serves.
    pub(super) bad: String,
    /// The release it would have gone back to.
    pub(super) target: String,
    /// What the watch found.
    pub(super) reason: String,
    /// Why the rollback did not happen.
    pub(super) problem: String,
    /// What the operator can run.
    pub(super) fix: String,
}

impl Refusal {
    /// The line `hoist status` shows.
    pub(super) fn describe(&self) -> String {
        format!(
            "did not roll back from `{}` to `{}` at {}: {}. `{}` still serves ({}); {}",
            self.bad,
            self.target,
            now(),
            self.problem,
            self.bad,
            self.reason,
            self.fix
        )
    }
}

/// What `hoist status` shows after an automatic rollback.
pub(super) fn describe_rollback(bad: &str, restored: &str, reason: &str) -> String {
    format!(
        "rolled back from `{bad}` to `{restored}` at {}: {reason}",
        now()
    )
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

impl Releases {
    /// Records `write` in the site's ledger (or its pending file), off the
    /// async threads: opening the ledger is file and SQLite work.
    async fn record(&self, write: Write, what: &'static str) {
        let root = self.site.root().to_owned();
        let recorded = tokio::task::spawn_blocking(move || {
            let context = hoist_deploy::Context::open(&root)?;
            context.record(&write, &Log);
            Ok::<(), hoist_deploy::DeployError>(())
        })
        .await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "cannot record {what}"),
            Err(error) => tracing::error!(%error, "recording {what} did not finish"),
        }
    }

    /// Records a refused automatic rollback: an `auto-rollback` event,
    /// `refused`, naming what the watch found and what to run.
    pub(super) async fn record_refusal(&self, refusal: &Refusal) {
        let event = Event {
            release: Some(refusal.target.clone()),
            from: Some(refusal.bad.clone()),
            // Where it would have gone; `from` stays live (the outcome says so).
            to: Some(refusal.target.clone()),
            outcome: Outcome::Refused,
            reason: Some(format!("automatic: `{}` {}", refusal.bad, refusal.reason)),
            detail: Some(format!(
                "{}; `{}` still serves. {}",
                refusal.problem, refusal.bad, refusal.fix
            )),
            ..one_off(hoist_site::Op::AutoRollback.as_str())
        };
        self.record(Write::Event { event }, "the refused automatic rollback")
            .await;
    }

    /// Marks a release that keeps crashing as failed, so it is never a rollback target.
    pub(super) async fn record_crash_loop(&self, release: &str, failure: String) {
        let event = Event {
            release: Some(release.to_owned()),
            from: Some(release.to_owned()),
            to: Some(release.to_owned()),
            outcome: Outcome::Failed,
            reason: Some("automatic: the live process keeps exiting".into()),
            detail: Some(failure.clone()),
            ..one_off("crash-loop")
        };
        let write = Write::Failure {
            release: release.to_owned(),
            failure,
            event,
        };
        self.record(write, "the crash loop").await;
    }
}

/// An event of the agent's own, now.
fn one_off(op: &str) -> Event {
    Event::one_off(op, hoist_site::user_name(), hoist_site::host_name())
}
