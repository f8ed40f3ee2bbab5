//! Warnings an attacker can cause one of per connection or per request
//! (evictions, refusals, timeouts, a backend down under load) are written
//! at most once a second per kind, with the number held back since the last
//! line: a flood must not become a flood of log lines.
//!
//! What was held back is not lost when the flood stops: a background task
//! writes the count of every kind left over a second later.
//!
//! ```ignore
//! static EVICTED: Throttle = Throttle::new("connection limit reached");
//! warn_throttled!(EVICTED, open = 480, "connection limit reached; closed the oldest idle connection");
//! // ts=... level=warn message="connection limit reached; ..." open=480 suppressed=311
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One kind of warning's budget: a line a second.
#[derive(Debug)]
pub(crate) struct Throttle {
    /// Names the kind in the line that reports what was held back.
    kind: &'static str,
    /// When the next line may be written, in ms since [`clock`]'s start.
    next: AtomicU64,
    /// Lines held back since the last one written.
    suppressed: AtomicU64,
    /// Whether the flusher knows this throttle.
    registered: AtomicBool,
}

/// Throttles that have held something back, for the flusher.
static HELD: Mutex<Vec<&'static Throttle>> = Mutex::new(Vec::new());

impl Throttle {
    pub(crate) const fn new(kind: &'static str) -> Throttle {
        Throttle {
            kind,
            next: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            registered: AtomicBool::new(false),
        }
    }

    /// Makes sure what this throttle holds back is reported within about a
    /// second even if nothing more of its kind happens.
    pub(crate) fn watch(&'static self) {
        if self.registered.swap(true, Ordering::Relaxed) {
            return;
        }
        HELD.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(self);
        static FLUSHER: OnceLock<()> = OnceLock::new();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            FLUSHER.get_or_init(|| {
                runtime.spawn(flush_forever());
            });
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

/// Every second, writes one line per kind for what was held back and not
/// reported since (the flood stopped before its next line was due).
async fn flush_forever() {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = clock();
        let held: Vec<&'static Throttle> = HELD
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        for throttle in held {
            if throttle.next.load(Ordering::Relaxed) > now {
                continue;
            }
            let suppressed = throttle.suppressed.swap(0, Ordering::Relaxed);
            if suppressed > 0 {
                throttle.next.store(now + 1000, Ordering::Relaxed);
                tracing::warn!(
                    suppressed,
                    kind = throttle.kind,
                    "more of the same were held back"
                );
            }
        }
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
            match $throttle.admit() {
                Some(suppressed) => tracing::warn!(suppressed, $($rest)+),
                None => $throttle.watch(),
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
        let throttle = Throttle::new("test");
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!((0..50).filter_map(|_| throttle.admit()).count(), 0);
        // The next second's line reports the 50 held back.
        throttle.next.store(0, Ordering::Relaxed);
        assert_eq!(throttle.admit(), Some(50));
    }
}
