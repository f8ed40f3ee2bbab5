//! Warnings an attacker can cause one of per connection or per request
//! (evictions, refusals, timeouts, a backend down under load) are written
//! at most once a second per kind, with the number held back since the last
//! line: a flood must not become a flood of log lines.
//!
//! ```ignore
//! static EVICTED: Throttle = Throttle::new();
//! warn_throttled!(EVICTED, open = 480, "connection limit reached; closed the oldest idle connection");
//! // ts=... level=warn message="connection limit reached; ..." open=480 suppressed=311
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// One kind of warning's budget: a line a second.
#[derive(Debug)]
pub(crate) struct Throttle {
    /// When the next line may be written, in ms since [`clock`]'s start.
    next: AtomicU64,
    /// Lines held back since the last one written.
    suppressed: AtomicU64,
}

impl Throttle {
    pub(crate) const fn new() -> Throttle {
        Throttle {
            next: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back)` when a line may be written now; else counts
    /// this one as held back.
    pub(crate) fn admit(&self) -> Option<u64> {
        let now = clock();
        let next = self.next.load(Ordering::Relaxed);
        if now < next
            || self
                .next
                .compare_exchange(next, now + 1000, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

/// Milliseconds since the first call.
fn clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// `tracing::warn!` through a [`Throttle`]: skipped cheaply when warnings
/// are off, else at most one line a second with `suppressed = N`.
macro_rules! warn_throttled {
    ($throttle:expr, $($rest:tt)+) => {
        if tracing::enabled!(tracing::Level::WARN) {
            if let Some(suppressed) = $throttle.admit() {
                tracing::warn!(suppressed, $($rest)+);
            }
        }
    };
}

pub(crate) use warn_throttled;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_and_the_rest_counted() {
        let throttle = Throttle::new();
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!((0..50).filter_map(|_| throttle.admit()).count(), 0);
        // The next second's line reports the 50 held back.
        throttle.next.store(0, Ordering::Relaxed);
        assert_eq!(throttle.admit(), Some(50));
    }
}
