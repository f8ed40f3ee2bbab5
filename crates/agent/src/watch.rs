//! Watching a release after a switch, and rolling back on our own.
//!
//! For `[process] watch` after any switch, the agent watches the new
//! release: if its process exits, or more than `max_error_rate` of its
//! answers are 5xx (over at least [`MIN_SAMPLE`] requests), it switches back
//! to the release it replaced and records why in the ledger.

use crate::Agent;
use hoist_ledger::{Event, Ledger, Outcome, ReleaseState, Write, Written};
use hoist_proxy::Backend;
use hoist_supervisor::Process;

use std::time::{Duration, Instant};

/// Fewer requests than this say nothing about an error rate.
const MIN_SAMPLE: u64 = 20;
/// How often the error rate is looked at.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Why a release was rolled back automatically.
pub(crate) async fn problem(
    process: &Process,
    backend: &Backend,
    window: Duration,
    max_error_rate: f64,
) -> Option<String> {
    let start = backend.stats();
    let deadline = crate::clock::instant_after(window);
    while Instant::now() < deadline {
        tokio::select! {
            status = process.wait_exit() => return Some(format!("its process exited ({status})")),
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
        let now = backend.stats();
        let (requests, errors) = (
            now.requests - start.requests,
            now.errors_5xx - start.errors_5xx,
        );
        if requests >= MIN_SAMPLE && errors as f64 / requests as f64 > max_error_rate {
            return Some(format!(
                "{errors} of {requests} answers were 5xx, over `max_error_rate` {max_error_rate}"
            ));
        }
    }
    None
}

/// Records an automatic rollback in the ledger like a `hoist rollback`.
pub(crate) fn record(
    agent: &Agent,
    bad: &str,
    restored: &str,
    reason: &str,
    started: jiff::Timestamp,
) {
    let one_off = Event::one_off("rollback", "hoist-agent".into(), hoist_site::host_name());
    let event = Event {
        release: Some(restored.to_owned()),
        from: Some(bad.to_owned()),
        to: Some(restored.to_owned()),
        reason: Some(format!("automatic: `{bad}` {reason}")),
        started_at: started,
        duration_ms: one_off
            .finished_at
            .duration_since(started)
            .as_millis()
            .max(0) as u64,
        ..one_off
    };
    let switch = Write::Switch {
        event,
        live: restored.to_owned(),
        left: Some((bad.to_owned(), ReleaseState::RolledBack)),
    };
    write(agent, &switch, "the automatic rollback");
}

/// Records `write`, or sets it aside beside the ledger when the ledger
/// cannot take it (as `hoist rollback` does); says which in the log.
fn write(agent: &Agent, write: &Write, what: &str) {
    let path = agent.site().ledger_path();
    let ledger = Ledger::open(&path).unwrap_or_else(|_| Ledger::unavailable(&path));
    match ledger.write_or_defer(write) {
        Ok(Written::Recorded) => {}
        Ok(Written::Deferred { problem, pending }) => tracing::warn!(
            %problem,
            pending = %pending.display(),
            "the ledger could not record {what}; it waits in the pending file"
        ),
        Err(error) => tracing::error!(%error, "cannot record {what}"),
    }
}

/// Marks a release that keeps crashing as failed, so it is never a rollback target.
pub(crate) fn record_crash_loop(agent: &Agent, release: &str, failure: &str) {
    let event = Event {
        release: Some(release.to_owned()),
        from: Some(release.to_owned()),
        to: Some(release.to_owned()),
        outcome: Outcome::Failed,
        reason: Some("automatic: the live process keeps exiting".into()),
        detail: Some(failure.to_owned()),
        ..Event::one_off("crash-loop", "hoist-agent".into(), hoist_site::host_name())
    };
    let failure = Write::Failure {
        release: release.to_owned(),
        failure: failure.to_owned(),
        event,
    };
    write(agent, &failure, "the crash loop");
}

/// What `hoist status` shows about the last automatic rollback.
pub(crate) fn describe(bad: &str, restored: &str, reason: &str) -> String {
    format!(
        "rolled back from `{bad}` to `{restored}` at {}: {reason}",
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC")
    )
}
