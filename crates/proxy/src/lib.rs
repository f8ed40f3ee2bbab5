//! hoist's reverse proxy: every request is routed to the release the
//! [`Router`] names *at that moment*, so a switch is one atomic pointer swap
//! and never touches client connections.
//!
//! - [`Backend`]: one running release (address + live counters).
//! - [`Router`]: which backend is live; swapped atomically.
//! - [`Proxy`]: forwards one request (headers, streaming bodies, upgrades,
//!   timeouts, error pages) and counts it against its backend until the
//!   response body ends, which is what lets a switch *drain* the old release.
//! - [`serve`]: the accept loop, `serve(listener, proxy, shutdown)`.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! let router = Arc::new(hoist_proxy::Router::default());
//! router.set_live(Arc::new(hoist_proxy::Backend::new("v1", "127.0.0.1:3000".parse().unwrap())));
//! let proxy = Arc::new(hoist_proxy::Proxy::new(router, hoist_proxy::Settings::default()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! hoist_proxy::serve(listener, proxy, std::future::pending()).await;
//! # }
//! ```

mod backend;
mod body;
mod buffers;
mod connections;
mod decode;
mod fields;
mod forward;
mod h1;
mod headers;
mod histogram;
mod idle;
mod maintenance;
mod pages;
mod path;
mod pause;
mod pool;
mod pool_members;
mod router;
mod server;
mod steering;
mod throttle;
mod tls;
mod upstream;

pub use backend::{Backend, BackendStats, StatusCounts};
pub use connections::default_max_connections;
pub use forward::{Proxy, Settings};
pub use headers::Peer;
pub use histogram::Latency;
pub use maintenance::{is_valid_cidr, BadRule, Maintenance};
pub use pool_members::{Member, MemberInfo, Members};
pub use router::Router;
pub use server::serve;
pub use steering::{Steering, BUCKET_COOKIE};
pub use tls::Tls;
