//! Runs one app release as a child process group and decides when it is
//! ready, only ever by its health check (never by the command returning or
//! what it prints: apachectl-style status lines come too early).
//!
//! It only ever signals its own children. Each child is recorded as an
//! [`Identity`] (pid, start time, boot id, and a token in its environment),
//! and every signal (stop, KILL, a data reload, `Drop`) goes through one
//! check of that identity; a successor agent stops a dead agent's children
//! with [`stop_orphan`], by the identities it recorded.
//!
//! - `process`: [`Process`], one release's group: start, readiness, stop.
//! - `identity`, `procfs`: who a child is, as `/proc` shows it.
//! - `group`: the check, and the signals that pass it.
//! - `stop`: stopping what we cannot `wait` on.
//! - `signals`: every signal at its default in a started process ([`catch_ignored`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hoist_supervisor::{Process, Spec};
//! let spec = Spec::new("v1", "/srv/shop/releases/v1".as_ref(), "./bin/shop --port $PORT", "/srv/shop/shared/log/v1.log".as_ref());
//! let process = Process::start(spec).await?;
//! let recorded = process.identity().clone(); // saved for a successor
//! process.wait_ready("/healthz", 2, std::time::Duration::from_secs(30)).await.map_err(std::io::Error::other)?;
//! process.stop().await;
//! # Ok(()) }
//! ```

mod group;
mod health;
mod identity;
mod logs;
mod process;
mod procfs;
mod signals;
mod stop;

pub use health::probe;
pub use identity::{Identity, MARKER};
pub use process::{Process, Spec};
pub use signals::catch_ignored;
pub use stop::{stop_orphan, Orphan};

/// Whether any process of the group `identity` names still runs (checked
/// as before a signal: a stranger with its pid does not count).
pub fn is_running(identity: &Identity) -> bool {
    group::alive(identity)
}
