//! Which backend gets the next request: one atomic pointer.

use crate::Backend;
use arc_swap::ArcSwapOption;
use std::sync::Arc;

/// The routing table. Reads are wait-free, a switch is one atomic store:
/// requests already routed keep their backend, new ones get the new one.
#[derive(Debug)]
pub struct Router {
    live: ArcSwapOption<Backend>,
    maintenance: ArcSwapOption<crate::Maintenance>,
    pause: crate::pause::Gate,
    candidate: ArcSwapOption<crate::Steering>,
    /// Static backends; when set, requests go to them instead of the live release.
    members: ArcSwapOption<crate::Members>,
    /// The live data version, for the data header.
    data: ArcSwapOption<http::HeaderValue>,
}

/// At most this many requests are held during a pause by default.
pub const DEFAULT_MAX_HELD: usize = 10_000;

impl Default for Router {
    fn default() -> Self {
        Router::with_max_held(DEFAULT_MAX_HELD)
    }
}

impl Router {
    /// A router holding at most `max_held` requests while paused.
    pub fn with_max_held(max_held: usize) -> Router {
        Router {
            live: ArcSwapOption::empty(),
            maintenance: ArcSwapOption::empty(),
            pause: crate::pause::Gate::new(max_held),
            candidate: ArcSwapOption::empty(),
            members: ArcSwapOption::empty(),
            data: ArcSwapOption::empty(),
        }
    }

    /// Holds new requests for at most `max`; in-flight ones carry on.
    pub fn pause(&self, max: std::time::Duration) {
        // Saturating: `max` is bounded where it is read, but a pause must
        // never panic the agent (an overflow here once wedged it).
        let now = tokio::time::Instant::now();
        let until = now
            .checked_add(max)
            .unwrap_or_else(|| now + std::time::Duration::from_secs(365 * 24 * 3600));
        self.pause.pause(until);
    }

    /// Releases held requests to the live backend.
    pub fn resume(&self) {
        self.pause.resume();
    }

    /// Whether paused, and for how much longer.
    pub fn paused_for(&self) -> Option<std::time::Duration> {
        self.pause
            .paused_until()
            .map(|until| until.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// Requests held right now.
    pub fn held(&self) -> usize {
        self.pause.held()
    }

    pub(crate) fn gate(&self) -> &crate::pause::Gate {
        &self.pause
    }

    /// Names the live data version in responses from now on.
    pub fn set_data_version(&self, version: Option<&str>) {
        let value = version.and_then(|version| http::HeaderValue::from_str(version).ok());
        self.data.store(value.map(Arc::new));
    }

    /// The live data version's header value.
    pub fn data_version(&self) -> arc_swap::Guard<Option<Arc<http::HeaderValue>>> {
        self.data.load()
    }

    /// Routes all new requests to `backend`; returns the one replaced.
    pub fn set_live(&self, backend: Arc<Backend>) -> Option<Arc<Backend>> {
        self.live.swap(Some(backend))
    }

    /// Stops routing (requests get 503 until a backend is set).
    pub fn clear(&self) -> Option<Arc<Backend>> {
        self.live.swap(None)
    }

    /// Puts the site into maintenance (`Some`) or takes it out (`None`).
    pub fn set_maintenance(&self, maintenance: Option<crate::Maintenance>) {
        self.maintenance.store(maintenance.map(Arc::new));
    }

    /// The maintenance in force, if any.
    pub fn maintenance(&self) -> Option<Arc<crate::Maintenance>> {
        self.maintenance.load_full()
    }

    /// Steers test traffic (and a canary share) to a candidate, or stops (`None`).
    pub fn set_candidate(&self, steering: Option<crate::Steering>) {
        self.candidate.store(steering.map(Arc::new));
    }

    /// The candidate being steered to, if any.
    pub fn candidate(&self) -> Option<Arc<crate::Steering>> {
        self.candidate.load_full()
    }

    /// Balances requests over static backends instead of the live release.
    pub fn set_members(&self, members: Option<crate::Members>) {
        self.members.store(members.map(Arc::new));
    }

    /// The static backends, if configured.
    pub fn members(&self) -> Option<Arc<crate::Members>> {
        self.members.load_full()
    }

    /// The backend for a new request.
    pub fn live(&self) -> Option<Arc<Backend>> {
        self.live.load_full()
    }
}
