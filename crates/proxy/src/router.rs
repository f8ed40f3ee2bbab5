//! Which backend gets the next request: one atomic pointer.

use crate::Backend;
use arc_swap::ArcSwapOption;
use std::sync::Arc;

/// The routing table. Reads are wait-free, a switch is one atomic store:
/// requests already routed keep their backend, new ones get the new one.
#[derive(Debug, Default)]
pub struct Router {
    live: ArcSwapOption<Backend>,
    maintenance: ArcSwapOption<crate::Maintenance>,
}

impl Router {
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

    /// The backend for a new request.
    pub fn live(&self) -> Option<Arc<Backend>> {
        self.live.load_full()
    }
}
