//! A lock-free latency histogram: log-spaced buckets of atomics, good to
//! about 12% for p50/p99 without a lock on the request path, plus the sum
//! of all latencies (what a Prometheus histogram's `_sum` needs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: usize = 96;
/// Bucket `i` holds latencies up to `FIRST_MICROS * GROWTH^i`.
const FIRST_MICROS: f64 = 20.0;
const GROWTH: f64 = 1.25;
/// Every `EXPORT_EVERY`th bound is exported: about a doubling per bucket,
/// as Prometheus' own default buckets go, instead of 96 series per release.
const EXPORT_EVERY: usize = 3;
/// Bounds past this many seconds are not exported (they fall into `+Inf`).
const EXPORT_MAX_SECONDS: f64 = 120.0;

/// Latencies recorded from many tasks at once.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    /// Sum of every recorded latency, in nanoseconds (wraps after 584 years).
    sum_ns: AtomicU64,
}

/// A histogram's counts at one moment, in Prometheus' shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latency {
    /// `(upper bound in seconds, latencies up to it)`, cumulative, ascending;
    /// the last bound is `f64::INFINITY` and its count is `count`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of all latencies, seconds.
    pub sum_seconds: f64,
    /// Latencies recorded.
    pub count: u64,
}

impl Latency {
    /// Adds `other`'s counts (same bounds) to these: one release served by
    /// two processes at once (a restart draining beside its successor).
    pub fn merge(&mut self, other: &Latency) {
        if self.buckets.is_empty() {
            *self = other.clone();
            return;
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            mine.1 += theirs.1;
        }
        self.sum_seconds += other.sum_seconds;
        self.count += other.count;
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub(crate) fn record(&self, elapsed: Duration) {
        // A binary search over precomputed bounds: no logarithm per request.
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let index = upper_bounds_ns().partition_point(|bound| *bound < nanos);
        self.buckets[index.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1), in ms.
    pub(crate) fn quantile_ms(&self, q: f64) -> Option<f64> {
        let counts = self.counts();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(FIRST_MICROS * GROWTH.powi(index as i32) / 1000.0);
            }
        }
        None
    }

    /// The counts now, in coarser cumulative buckets (see [`EXPORT_EVERY`]).
    pub(crate) fn snapshot(&self) -> Latency {
        let counts = self.counts();
        let mut buckets = Vec::with_capacity(BUCKETS / EXPORT_EVERY + 1);
        let mut seen = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            let bound = FIRST_MICROS * GROWTH.powi(index as i32) / 1e6;
            if index % EXPORT_EVERY == EXPORT_EVERY - 1 && bound <= EXPORT_MAX_SECONDS {
                buckets.push((three_digits(bound), seen));
            }
        }
        buckets.push((f64::INFINITY, seen));
        Latency {
            buckets,
            sum_seconds: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            count: seen,
        }
    }

    fn counts(&self) -> [u64; BUCKETS] {
        std::array::from_fn(|index| self.buckets[index].load(Ordering::Relaxed))
    }
}

/// `value` to three significant digits (`0.000119`, not `0.00011920928955078125`):
/// what a reader of `le` wants, off by at most 0.5%.
fn three_digits(value: f64) -> f64 {
    format!("{value:.2e}").parse().unwrap_or(value)
}

/// Bucket `i`'s upper bound in nanoseconds.
fn upper_bounds_ns() -> &'static [u64; BUCKETS] {
    static BOUNDS: std::sync::OnceLock<[u64; BUCKETS]> = std::sync::OnceLock::new();
    BOUNDS.get_or_init(|| {
        std::array::from_fn(|index| (FIRST_MICROS * GROWTH.powi(index as i32) * 1000.0) as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_in_the_right_bucket() {
        let histogram = Histogram::default();
        for _ in 0..99 {
            histogram.record(Duration::from_millis(1));
        }
        histogram.record(Duration::from_millis(100));
        let p50 = histogram.quantile_ms(0.5).unwrap();
        let p999 = histogram.quantile_ms(0.999).unwrap();
        assert!((1.0..1.3).contains(&p50), "{p50}");
        assert!((100.0..126.0).contains(&p999), "{p999}");
    }

    #[test]
    fn snapshot_is_cumulative_with_sum_and_count() {
        let histogram = Histogram::default();
        for _ in 0..3 {
            histogram.record(Duration::from_millis(1));
        }
        histogram.record(Duration::from_secs(1));
        let latency = histogram.snapshot();
        assert_eq!(latency.count, 4);
        assert!(
            (latency.sum_seconds - 1.003).abs() < 1e-9,
            "{}",
            latency.sum_seconds
        );
        let last = latency.buckets.last().unwrap();
        assert_eq!(*last, (f64::INFINITY, 4));
        assert!(latency
            .buckets
            .windows(2)
            .all(|pair| pair[0].0 < pair[1].0 && pair[0].1 <= pair[1].1));
        let up_to = |seconds: f64| {
            latency
                .buckets
                .iter()
                .find(|(bound, _)| *bound >= seconds)
                .unwrap()
                .1
        };
        assert_eq!(up_to(0.002), 3);
        assert_eq!(up_to(2.0), 4);
        assert!(latency.buckets.len() < 40);
    }
}
