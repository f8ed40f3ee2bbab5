//! Runs one app release as a child process group and decides when it is
//! ready, only ever by its health check (never by the command returning or
//! what it prints: apachectl-style status lines come too early).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hoist_supervisor::{Process, Spec};
//! let spec = Spec::new("v1", "/srv/shop/releases/v1".as_ref(), "./bin/shop --port $PORT", "/srv/shop/shared/log/v1.log".as_ref());
//! let process = Process::start(spec).await?;
//! process.wait_ready("/healthz", 2, std::time::Duration::from_secs(30)).await.map_err(std::io::Error::other)?;
//! process.stop().await;
//! # Ok(()) }
//! ```

mod group;
mod health;
mod logs;
mod process;

pub use health::probe;
pub use process::{Process, Spec};
