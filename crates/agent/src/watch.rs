//! Watching a release after a switch.
//!
//! For its own `[process] watch` after a deploy or promote, the agent
//! watches the new release: its process exiting, or more than
//! `max_error_rate` of its answers being 5xx (over at least [`MIN_SAMPLE`]
//! requests), is a problem; the release owner then rolls back through the
//! deploy lifecycle (see `releases::after_switch`).

use hoist_proxy::Backend;
use hoist_supervisor::Process;

use std::time::{Duration, Instant};

/// Fewer requests than this say nothing about an error rate.
const MIN_SAMPLE: u64 = 20;
/// How often the error rate is looked at.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// What is wrong with the watched release within `window`, if anything.
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
