//! The expand engine ([`hoist_db::expand::Expander`]) as a deploy,
//! `hoist db complete` and `hoist db abort` reach it: one way to connect
//! (PostgreSQL only), to read its status, and to turn its events into
//! progress and the crash tests' fault points.

use crate::contract::ContractError;
use crate::{DeployError, Reporter, Schema};
use hoist_db::expand::{ExpandEvent, ExpandStatus, ExpandStep, Expander};
use hoist_db::Target;

/// Connects to `schema`'s database for expand and contract, with its
/// `[database] ddl_lock_timeout`, `ddl_retries`...; refused on SQLite,
/// which keeps its plain migrations.
pub(crate) fn expander(schema: &Schema) -> Result<Expander, DeployError> {
    match &schema.target {
        Target::Postgres(url) => Ok(Expander::connect(url, schema.expand.clone())?),
        Target::Sqlite(path) => Err(ContractError::NotPostgres {
            database: path.display().to_string(),
        }
        .into()),
    }
}

/// The open expansion and view schemas of `schema`'s database, or none
/// for a database that is not PostgreSQL.
pub(crate) fn status(schema: &Schema) -> Result<Option<ExpandStatus>, DeployError> {
    match &schema.target {
        Target::Postgres(_) => Ok(Some(expander(schema)?.status()?)),
        Target::Sqlite(_) => Ok(None),
    }
}

/// What the engine tells as it goes: its steps (each a fault point for
/// the crash tests), backfill progress, lock-timeout retries.
pub(crate) fn on_event(event: ExpandEvent<'_>, reporter: &dyn Reporter) {
    match event {
        ExpandEvent::Step(step) => {
            reporter.step("expand", step.as_str());
            fault_point(step);
        }
        ExpandEvent::Backfilled { done, total, .. } => reporter.advance(done, total),
        ExpandEvent::Retry { what, attempt } => reporter.warn(&format!(
            "{what}: gave up waiting for its lock (attempt {attempt}); trying again"
        )),
    }
}

/// Dies by SIGKILL when `HOIST_FAULT_KILL_AT` is `expand-<step>` (the
/// crash tests), right after the engine recorded that step.
pub(crate) fn fault_point(step: ExpandStep) {
    hoist_site::fault_at(&format!("expand-{}", step.as_str()));
}
