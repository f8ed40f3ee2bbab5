//! The narrow interface the fleet orchestrator drives a load balancer
//! through, whatever the balancer is. Hosts are named as the stage names
//! them; each implementation maps a host to its own name for it.
//!
//! Calls block (a runtime API round trip, or a wait); async callers run
//! them on `spawn_blocking`.

use crate::{BalancerError, ServerStatus, Traffic};
use std::time::Duration;

/// A load balancer in front of a stage's hosts.
pub trait Balancer: Send + Sync + std::fmt::Debug {
    /// Checks, before anything changes, that the balancer answers with the
    /// rights to change servers, and that its backend and every host's
    /// server exist. The first thing missing is the error.
    fn check(&self, hosts: &[String]) -> Result<(), BalancerError>;

    /// Takes `host` out of rotation: no new requests, while those in
    /// flight finish.
    fn drain(&self, host: &str) -> Result<(), BalancerError>;

    /// Waits until `host` has no request in flight, for at most `timeout`.
    /// On [`BalancerError::NotIdle`] the host stays drained: what to do
    /// next is the caller's choice.
    fn wait_idle(&self, host: &str, timeout: Duration) -> Result<Idle, BalancerError>;

    /// Puts `host` back in rotation.
    fn ready(&self, host: &str) -> Result<(), BalancerError>;

    /// `host`'s state as the balancer sees it now.
    fn status(&self, host: &str) -> Result<ServerStatus, BalancerError>;

    /// Cumulative counters for the backend and for each of `hosts`; diff
    /// two readings with [`Traffic::since`] or [`crate::error_rate`].
    fn traffic(&self, hosts: &[String]) -> Result<Traffic, BalancerError>;
}

/// How a wait for a host to go idle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idle {
    /// How long it took, for the fleet's progress report.
    pub waited: Duration,
}
