//! `hoist db complete` and `hoist db abort` on one host: the open
//! expansion's old shape goes (contract), or its new shape goes (abort).
//!
//! ```text
//! lock ─ open expansion? ─ who serves here, which side ─┬─ a release on the side that goes serves: refused, naming it
//!                                                       └─ journal `complete`/`abort-expand` ─ engine ─ rebase state/db-schema ─ record
//! ```
//!
//! Who serves is [`serving`]'s: the agent's live, warm and held releases,
//! else `current`. The work is [`hoist_db::expand::Expander`]'s, which
//! keeps its own state in the database and resumes a half-done contract or
//! abort when called again; so a crash during the step is finished by
//! `hoist recover` ([`recover`]), and there is no way back from it (the
//! columns a contract dropped are gone).
//!
//! Two entry points, each taking the [`End`] to make: [`db_end`] is the
//! commands (their own lock, journal and ledger row); [`end_in`] runs
//! inside an operation that holds the lock and a journal (a deploy's
//! auto-complete, `rollback --with-db`'s abort). Laid out as: [`End`]
//! (what differs between the two ways), `refuse` (the refusal and its way
//! out), [`serving`] (who serves on which side), [`recover`].
//!
//! `HOIST_FAULT_KILL_AT=expand-completing` (or `expand-aborting`, or any
//! `expand-<step>` the engine reports) kills hoist right after the engine
//! recorded that step: the crash tests ([`crate::engine::fault_point`]).

mod end;
mod error;
mod recover;
mod refuse;
mod serving;

pub use end::End;
pub use error::ContractError;
pub(crate) use recover::recover;
pub use serving::{running, sides, Role, Running, Serving, Side};

use crate::activate;
use crate::attempt::Attempt;
use crate::{engine, Context, DeployError, Reporter, Schema};
use hoist_db::expand::{ExpandStatus, Expander, Finished};
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, Step};
use refuse::refuse;
use serde::Serialize;

/// What `hoist db complete` or `hoist db abort` did.
#[derive(Debug, Clone, Serialize)]
pub struct Contracted {
    /// `completed`, `aborted`, or `nothing` (no expansion was open).
    pub action: &'static str,
    /// What the engine did (`None` when nothing was open).
    pub finished: Option<Finished>,
    /// What serves on this host, and on which side (as checked).
    pub serving: Vec<Serving>,
    /// Releases whose `state/db-schema/<release>` named a view schema: they
    /// use the base schema from their next start on. Their running
    /// processes keep the dropped view schema's name in `HOIST_DB_SCHEMA`
    /// and `PGOPTIONS` until they restart (`search_path` falls through to
    /// the base schema, which has their shape).
    pub rebased: Vec<String>,
}

/// The open expansion and view schemas, and what serves here on which side.
#[derive(Debug, Clone, Serialize)]
pub struct Expansion {
    /// The engine's view.
    #[serde(flatten)]
    pub status: ExpandStatus,
    /// What serves on this host, and on which side (empty when nothing is open).
    pub serving: Vec<Serving>,
}

/// `hoist db status`'s expansion part; `None` for a SQLite database.
pub fn expansion(context: &Context, schema: &Schema) -> Result<Option<Expansion>, DeployError> {
    let Some(status) = engine::status(schema)? else {
        return Ok(None);
    };
    let serving = match &status.open {
        Some(open) => sides(open, running(context)?),
        None => Vec::new(),
    };
    Ok(Some(Expansion { status, serving }))
}

/// `hoist db complete` or `hoist db abort` (their own lock, journal and
/// ledger row): contracts or removes the open expansion. Refused, naming
/// them, while a release on the side `end` drops serves on this host (the
/// old side for a contract, the new one for an abort); `Ok` with action
/// `nothing` when none is open.
pub fn db_end(
    context: &Context,
    schema: &Schema,
    end: End,
    reason: Option<String>,
    reporter: &dyn Reporter,
) -> Result<Contracted, DeployError> {
    let mut attempt = Attempt::new(context, end.op(), None, reason.clone());
    let result = (|| {
        context.refuse_if_pending()?;
        let lock = context.lock(end.op().as_str(), reporter)?;
        context.refuse_if_pending()?;
        let live = context.site.live()?;
        attempt.started_from(live.as_deref());
        let Some(prepared) = prepare(context, schema, end)? else {
            attempt.noop(context, "no expansion is open; nothing to do", reporter);
            lock.release()?;
            return Ok(nothing());
        };
        let release = live.clone().unwrap_or_default();
        let mut journal = Journal::begin(&context.site, end.op(), &release, live, reason.clone())?;
        attempt.journaled();
        journal.step(end.step())?;
        let result = execute(context, schema, end, prepared, reporter);
        if result.is_ok() {
            journal.step(Step::Record)?;
        }
        // A failure mid-way (a lock never granted, a lost connection) is
        // recorded too: the engine's state in the database says where it
        // stopped, and the same command resumes it.
        let (outcome, detail) = match &result {
            Ok(contracted) => (Outcome::Ok, detail(contracted)),
            Err(error) => (Outcome::Failed, error.to_string()),
        };
        record(context, &journal, outcome, detail, reporter);
        activate::journal_done(context, &mut journal)?;
        lock.release()?;
        result
    })();
    attempt.settle(context, result, reporter)
}

/// Records the end of a `db-complete` or `db-abort` journaled as `journal`.
pub(crate) fn record(
    context: &Context,
    journal: &Journal,
    outcome: Outcome,
    detail: String,
    reporter: &dyn Reporter,
) {
    let event = hoist_ledger::Event {
        // It changed the schema, not which release runs.
        release: None,
        ..activate::event(journal.record(), outcome, Some(detail))
    };
    context.record(&Write::Event { event }, reporter);
}

fn nothing() -> Contracted {
    Contracted {
        action: "nothing",
        finished: None,
        serving: Vec::new(),
        rebased: Vec::new(),
    }
}

/// Contracts or removes the open expansion inside the caller's operation,
/// which holds the site lock and `journal`: a deploy whose release brings
/// the next declarative migration (a contract), `rollback --with-db` once
/// the new side's processes stopped (an abort). Steps the journal to
/// `end`'s step first. Refused like [`db_end`]; `Ok` with action `nothing`
/// when none is open.
pub(crate) fn end_in(
    context: &Context,
    schema: &Schema,
    end: End,
    journal: &mut Journal,
    reporter: &dyn Reporter,
) -> Result<Contracted, DeployError> {
    let Some(prepared) = prepare(context, schema, end)? else {
        return Ok(nothing());
    };
    journal.step(end.step())?;
    execute(context, schema, end, prepared, reporter)
}

/// An open expansion checked against what serves, ready to end.
pub(crate) struct Prepared {
    expander: Expander,
    name: String,
    serving: Vec<Serving>,
}

/// The open expansion, checked against what serves here: `None` when none
/// is open, refused while a release on the side `end` drops serves.
fn prepare(context: &Context, schema: &Schema, end: End) -> Result<Option<Prepared>, DeployError> {
    let mut expander = engine::expander(schema)?;
    let Some(open) = expander.status()?.open else {
        return Ok(None);
    };
    let serving = sides(&open, running(context)?);
    // A contract (or abort) already under way has no way back: what
    // serves is broken until it ends, so it ends.
    if open.step != end.engine_step() {
        refuse(end, &open, &serving)?;
    }
    Ok(Some(Prepared {
        expander,
        name: open.name,
        serving,
    }))
}

/// Runs the engine, then removes the state files of the schemas it dropped.
pub(crate) fn execute(
    context: &Context,
    schema: &Schema,
    end: End,
    mut prepared: Prepared,
    reporter: &dyn Reporter,
) -> Result<Contracted, DeployError> {
    reporter.step(
        end.step().as_str(),
        &format!(
            "{} `{}` on {}",
            end.doing(),
            prepared.name,
            schema.redacted()
        ),
    );
    let finished = end.run(&mut prepared.expander, &mut |event| {
        engine::on_event(event, reporter)
    })?;
    let rebased = rebase(context, schema, reporter);
    Ok(Contracted {
        action: end.done(),
        finished: Some(finished),
        serving: prepared.serving,
        rebased,
    })
}

/// Every release with a recorded view schema goes back to the base schema
/// (the contract or abort dropped them all); returns those releases. Not
/// fatal: the database changed already, and a release whose view schema is
/// gone falls through to the base tables on `search_path`.
fn rebase(context: &Context, schema: &Schema, reporter: &dyn Reporter) -> Vec<String> {
    let base = &schema.expand.base_schema;
    hoist_site::rebase_db_schemas(&context.site, base).unwrap_or_else(|problem| {
        reporter.warn(&format!(
            "could not put the releases' recorded schemas back on `{base}` ({problem}); their processes fall through to it on `search_path` anyway"
        ));
        Vec::new()
    })
}

/// The ledger row's detail.
pub(crate) fn detail(contracted: &Contracted) -> String {
    let Some(finished) = &contracted.finished else {
        return "no expansion was open".to_owned();
    };
    let mut parts = vec![format!("{} `{}`", contracted.action, finished.name)];
    if !finished.dropped.is_empty() {
        parts.push(format!("dropped {}", finished.dropped.join(", ")));
    }
    if !finished.renamed.is_empty() {
        parts.push(format!("renamed {}", finished.renamed.join(", ")));
    }
    if !finished.dropped_schemas.is_empty() {
        parts.push(format!(
            "view schemas dropped: {}",
            finished.dropped_schemas.join(", ")
        ));
    }
    parts.join("; ")
}
