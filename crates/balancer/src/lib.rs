//! Drives the load balancer in front of a stage's hosts, so a fleet deploy
//! can switch hosts with no request lost: drain a host, wait until nothing
//! is in flight on it, (the caller switches it), make it ready again, and
//! read traffic counters to judge a wave's error rate over its watch.
//!
//! Layout, one concept a file:
//! - [`Balancer`] (`balancer.rs`): the narrow, blocking trait the
//!   orchestrator drives; hosts are named as the stage names them.
//! - [`Haproxy`] (`haproxy.rs`): the trait over HAProxy's runtime API.
//! - `runtime_api.rs`: one command and its answer over the unix socket.
//! - `stat.rs`: reading `show stat` CSV by column names.
//! - [`Traffic`] (`traffic.rs`): cumulative counters and windows between
//!   two readings; [`ServerStatus`] (`status.rs`).
//! - [`BalancerError`] (`error.rs`): what went wrong, naming the socket,
//!   backend and server, with the command that shows more.
//!
//! ```no_run
//! use hoist_balancer::{error_rate, Balancer, Haproxy};
//! use std::time::Duration;
//!
//! let hosts = vec!["web1".to_owned(), "web2".to_owned()];
//! let lb = Haproxy::new("/run/haproxy/admin.sock", "shop");
//! lb.check(&hosts)?; // before anything changes
//! lb.drain("web1")?;
//! lb.wait_idle("web1", Duration::from_secs(30))?;
//! // ... switch web1 ...
//! lb.ready("web1")?;
//! let before = lb.traffic(&hosts)?;
//! // ... watch ...
//! let after = lb.traffic(&hosts)?;
//! let too_many = error_rate(&before, &after).is_some_and(|rate| rate > 0.01);
//! # Ok::<(), hoist_balancer::BalancerError>(())
//! ```

mod balancer;
mod error;
mod haproxy;
mod runtime_api;
mod stat;
mod status;
mod traffic;

pub use balancer::{Balancer, Idle};
pub use error::BalancerError;
pub use haproxy::{AdminState, Haproxy};
pub use status::ServerStatus;
pub use traffic::{error_rate, Counters, Traffic};
