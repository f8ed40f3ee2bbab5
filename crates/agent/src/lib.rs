//! The agent: one long-running process per site that owns the public
//! listener (through [`hoist_proxy`]), the app processes (through
//! [`hoist_supervisor`]) and an admin API on `<root>/agent.sock`.
//!
//! A switch is blue/green: start the candidate on a new port with the
//! `[process]` it ships, wait for its health check, point `current` at it,
//! then swap the route, and let the old release drain and keep it warm for
//! `rollback_window` (at most `max_warm` of them), so a rollback is a route
//! swap with nothing to start. The agent's own rollback after a failed
//! watch goes through `hoist_deploy::auto_rollback` (site lock, journal,
//! ledger), like `hoist rollback`.
//!
//! Every app process is recorded in `agent-state.json` with its identity
//! (pid, start time, boot id, token) from the moment it is spawned; a
//! restarted agent stops the recorded ones that still pass the identity
//! check, and never signals anything else.
//!
//! - [`Agent`]: the composition of the owners of live state
//!   ([`Agent::activate`], [`Agent::status`]); the releases and their
//!   processes are owned by `releases` (its docs draw the switch order).
//! - [`run`]: `run(agent, public, admin, shutdown)`.
//! - `metrics`: `GET /metrics` for Prometheus on `[metrics] listen`
//!   ([`MetricsListener`]), read at scrape time from the proxy's counters.
//! - [`AgentClient`]: what the CLI uses to talk to a running agent.

mod admin;
mod agent;
mod client;
mod clock;
mod error;
mod handover;
mod maintenance;
mod members;
mod metrics;
mod page;
mod releases;
mod run;
mod state;
mod status;
mod watch;

pub use agent::{Agent, DataReloaded, DataRoll};
pub use client::AgentClient;
pub use error::AgentError;
pub use handover::{receive_listener, UpgradePhase};
pub use members::Drained;
pub use metrics::MetricsListener;
pub use releases::Activated;
pub use run::{bind_admin, notify_ready, run};
pub use status::{AgentStatus, Candidate, PauseInfo, Paused, ProcessInfo};
