//! A running release as the proxy sees it: an address and live counters.

use crate::histogram::Histogram;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// One release's app process, reachable at `addr`.
#[derive(Debug)]
pub struct Backend {
    release: String,
    /// `release` as a header value, made once (`None` if it cannot be one).
    release_value: Option<http::HeaderValue>,
    addr: SocketAddr,
    in_flight: AtomicU64,
    /// Answers by status class: index `status / 100` (0 for anything
    /// outside 100..=599). One atomic per request counts both the total
    /// and the class, so `/metrics` costs the request path nothing more.
    classes: [AtomicU64; 6],
    /// Of those, answers the proxy made itself (502, 504, ...) because the
    /// app did not answer; rare, so off the common path.
    proxy_made: AtomicU64,
    latency: Histogram,
    /// Woken whenever `in_flight` drops to zero, so a drain needs no polling.
    idle: Notify,
    /// Keep-alive connections to this backend.
    pool: crate::pool::Pool,
}

/// A snapshot of a backend's counters, for `hoist status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BackendStats {
    /// The release.
    pub release: String,
    /// Where its process listens.
    pub addr: String,
    /// Requests (and upgraded connections) still open.
    pub in_flight: u64,
    /// Requests answered.
    pub requests: u64,
    /// Of those, answers with status 5xx (including the proxy's own 502/504).
    pub errors_5xx: u64,
    /// Median time to response headers, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile time to response headers, ms.
    pub p99_ms: Option<f64>,
}

/// A backend's answers by status class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Index `status / 100`: `classes[2]` counts 2xx; `classes[0]` counts
    /// statuses outside 100..=599.
    pub classes: [u64; 6],
    /// Answers the proxy made itself because the app did not answer (its
    /// 502 and 504 pages); also counted in their class.
    pub proxy_made: u64,
}

impl StatusCounts {
    /// Every answer.
    pub fn total(&self) -> u64 {
        self.classes.iter().sum()
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &StatusCounts) {
        for (mine, theirs) in self.classes.iter_mut().zip(other.classes) {
            *mine += theirs;
        }
        self.proxy_made += other.proxy_made;
    }
}

impl Backend {
    /// A backend for `release` at `addr`.
    pub fn new(release: &str, addr: SocketAddr) -> Backend {
        Backend {
            release: release.to_owned(),
            release_value: http::HeaderValue::from_str(release).ok(),
            addr,
            in_flight: AtomicU64::new(0),
            classes: std::array::from_fn(|_| AtomicU64::new(0)),
            proxy_made: AtomicU64::new(0),
            latency: Histogram::default(),
            idle: Notify::new(),
            pool: crate::pool::Pool::default(),
        }
    }

    /// The release id.
    pub fn release(&self) -> &str {
        &self.release
    }

    /// The release id as a response header value.
    pub(crate) fn release_value(&self) -> Option<&http::HeaderValue> {
        self.release_value.as_ref()
    }

    /// The process address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn pool(&self) -> &crate::pool::Pool {
        &self.pool
    }

    /// Requests and tunnels still open.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until nothing is in flight, or `limit` passes; returns whether it drained.
    pub async fn drained(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// Current counters.
    pub fn stats(&self) -> BackendStats {
        let counts = self.counts();
        BackendStats {
            release: self.release.clone(),
            addr: self.addr.to_string(),
            in_flight: self.in_flight(),
            requests: counts.total(),
            errors_5xx: counts.classes[5],
            p50_ms: self.latency.quantile_ms(0.5),
            p99_ms: self.latency.quantile_ms(0.99),
        }
    }

    /// Answers by status class, for `/metrics`.
    pub fn counts(&self) -> StatusCounts {
        StatusCounts {
            classes: std::array::from_fn(|index| self.classes[index].load(Ordering::Relaxed)),
            proxy_made: self.proxy_made.load(Ordering::Relaxed),
        }
    }

    /// Time to response headers, in Prometheus' histogram shape.
    pub fn latency(&self) -> crate::Latency {
        self.latency.snapshot()
    }

    pub(crate) fn record(&self, status: u16, elapsed: Duration, proxy_made: bool) {
        let class = match status {
            100..=599 => usize::from(status / 100),
            _ => 0,
        };
        self.classes[class].fetch_add(1, Ordering::Relaxed);
        if proxy_made {
            self.proxy_made.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.record(elapsed);
    }
}

/// Counts one request against its backend from routing until its response
/// body (or upgraded tunnel) ends.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Backend>);

impl InFlight {
    pub(crate) fn new(backend: Arc<Backend>) -> InFlight {
        backend.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(backend)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}
