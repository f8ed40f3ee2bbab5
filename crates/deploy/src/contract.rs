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
//! Two entry points per direction: [`db_complete`] / [`db_abort`] are the
//! commands (their own lock, journal and ledger row); [`complete_in`] /
//! [`abort_in`] run inside an operation that holds the lock and a journal
//! (a deploy's auto-complete, `rollback --with-db`'s abort).
//!
//! `HOIST_FAULT_KILL_AT=expand-completing` (or `expand-aborting`, or any
//! `expand-<step>` the engine reports) kills hoist right after the engine
//! recorded that step: the crash tests.

mod error;
mod recover;
mod serving;

pub use error::ContractError;
pub(crate) use recover::recover;
pub use serving::{running, sides, Role, Running, Serving, Side};

use crate::activate;
use crate::attempt::Attempt;
use crate::{Context, DeployError, Reporter, Schema};
use hoist_db::expand::{ExpandEvent, ExpandStatus, Expander, Finished};
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, Op, Step};
use serde::Serialize;

/// Which way an open expansion ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Contract: the new shape stays.
    Complete,
    /// Abort: the old shape stays.
    Abort,
}

impl End {
    fn op(self) -> Op {
        match self {
            End::Complete => Op::DbComplete,
            End::Abort => Op::DbAbort,
        }
    }

    pub(crate) fn step(self) -> Step {
        match self {
            End::Complete => Step::Complete,
            End::Abort => Step::AbortExpand,
        }
    }

    pub(crate) fn of(op: Op) -> Option<End> {
        match op {
            Op::DbComplete => Some(End::Complete),
            Op::DbAbort => Some(End::Abort),
            _ => None,
        }
    }

    fn done(self) -> &'static str {
        match self {
            End::Complete => "completed",
            End::Abort => "aborted",
        }
    }

    /// The engine's step while this end is under way: a crash there
    /// has no way back.
    fn engine_step(self) -> hoist_db::expand::ExpandStep {
        match self {
            End::Complete => hoist_db::expand::ExpandStep::Completing,
            End::Abort => hoist_db::expand::ExpandStep::Aborting,
        }
    }

    fn run(
        self,
        expander: &mut Expander,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Finished, hoist_db::DbError> {
        match self {
            End::Complete => expander.complete(events),
            End::Abort => expander.abort(events),
        }
    }
}

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
    /// use the base schema from their next start on.
    pub rebased: Vec<String>,
}

/// Connects to `schema`'s database for expand and contract (PostgreSQL
/// only), with its `[database] ddl_lock_timeout`, `ddl_retries`...
fn expander(schema: &Schema) -> Result<Expander, DeployError> {
    match &schema.target {
        hoist_db::Target::Postgres(url) => Ok(Expander::connect(url, schema.expand.clone())?),
        hoist_db::Target::Sqlite(path) => Err(ContractError::NotPostgres {
            database: path.display().to_string(),
        }
        .into()),
    }
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
    if !matches!(schema.target, hoist_db::Target::Postgres(_)) {
        return Ok(None);
    }
    let status = expander(schema)?.status()?;
    let serving = match &status.open {
        Some(open) => sides(context, open, running(context)?),
        None => Vec::new(),
    };
    Ok(Some(Expansion { status, serving }))
}

/// `hoist db complete`: contracts the open expansion. Refused, naming
/// them, while a release on its old side serves on this host.
pub fn db_complete(
    context: &Context,
    schema: &Schema,
    reason: Option<String>,
    reporter: &dyn Reporter,
) -> Result<Contracted, DeployError> {
    command(context, schema, End::Complete, reason, reporter)
}

/// `hoist db abort`: removes the open expansion. Refused, naming them,
/// while a release on its new side serves on this host.
pub fn db_abort(
    context: &Context,
    schema: &Schema,
    reason: Option<String>,
    reporter: &dyn Reporter,
) -> Result<Contracted, DeployError> {
    command(context, schema, End::Abort, reason, reporter)
}

/// Contracts the open expansion inside the caller's operation, which holds
/// the site lock and `journal` (a deploy whose release brings the next
/// declarative migration). Steps the journal to `complete` first. Refused
/// like [`db_complete`]; `Ok` with action `nothing` when none is open.
pub fn complete_in(
    context: &Context,
    schema: &Schema,
    journal: &mut Journal,
    reporter: &dyn Reporter,
) -> Result<Contracted, DeployError> {
    run(context, schema, End::Complete, journal, reporter)
}

/// Removes the open expansion inside the caller's operation, which holds
/// the site lock and `journal` (`rollback --with-db`, once the new side's
/// processes stopped). Steps the journal to `abort-expand` first.
/// Refused like [`db_abort`]; `Ok` with action `nothing` when none is open.
pub fn abort_in(
    context: &Context,
    schema: &Schema,
    journal: &mut Journal,
    reporter: &dyn Reporter,
) -> Result<Contracted, DeployError> {
    run(context, schema, End::Abort, journal, reporter)
}

fn command(
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

fn run(
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
    let mut expander = expander(schema)?;
    let Some(open) = expander.status()?.open else {
        return Ok(None);
    };
    let serving = sides(context, &open, running(context)?);
    // A contract (or abort) already under way has no way back: what
    // serves is broken until it ends, so it ends.
    if open.step != end.engine_step() {
        refuse(end, &open.name, &serving)?;
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
    let verb = match end {
        End::Complete => "contracting",
        End::Abort => "aborting",
    };
    reporter.step(
        end.step().as_str(),
        &format!("{verb} `{}` on {}", prepared.name, describe(schema)),
    );
    let finished = end.run(&mut prepared.expander, &mut |event| {
        on_event(event, reporter)
    })?;
    let rebased = rebase(context, schema, reporter);
    Ok(Contracted {
        action: end.done(),
        finished: Some(finished),
        serving: prepared.serving,
        rebased,
    })
}

/// The database, with no password.
fn describe(schema: &Schema) -> String {
    match &schema.target {
        hoist_db::Target::Postgres(url) => hoist_db::redact(url),
        hoist_db::Target::Sqlite(path) => path.display().to_string(),
    }
}

/// Refuses `end` while a release on the side it drops serves here.
fn refuse(end: End, migration: &str, serving: &[Serving]) -> Result<(), ContractError> {
    let dropped = match end {
        End::Complete => Side::Old,
        End::Abort => Side::New,
    };
    let blocking: Vec<&Serving> = serving.iter().filter(|s| s.side == dropped).collect();
    let Some(first) = blocking.first() else {
        return Ok(());
    };
    let names = blocking.iter().map(|serving| serving.describe()).collect();
    let release = &first.running.release;
    let fix = match (end, first.running.role) {
        (_, Role::Warm) => format!(
            "wait until `{release}`'s rollback window ends{} (the agent stops it then), then run this again",
            first
                .running
                .until
                .map(|until| format!(" at {}", until.strftime("%H:%M:%SZ")))
                .unwrap_or_default()
        ),
        (_, Role::Candidate) => "`hoist abort` stops the held candidate; then run this again".to_owned(),
        (End::Complete, Role::Live | Role::Current) => format!(
            "deploy a release whose migrations include `{migration}` first, or give the new shape up with `hoist db abort`"
        ),
        (End::Abort, Role::Live | Role::Current) => format!(
            "`hoist rollback` to a release without `{migration}` first (`hoist rollback --with-db` rolls back and aborts in one), or keep the new shape with `hoist db complete`"
        ),
    };
    Err(match end {
        End::Complete => ContractError::OldSideServes {
            migration: migration.to_owned(),
            serving: names,
            fix,
        },
        End::Abort => ContractError::NewSideServes {
            migration: migration.to_owned(),
            serving: names,
            fix,
        },
    })
}

/// Progress, and the crash tests' fault points (`expand-<step>`).
pub(crate) fn on_event(event: ExpandEvent<'_>, reporter: &dyn Reporter) {
    match event {
        ExpandEvent::Step(step) => fault_point(step),
        ExpandEvent::Backfilled { table, done, total } => {
            reporter.step("backfill", &format!("{table}: {done} of {total} rows"))
        }
        ExpandEvent::Retry { what, attempt } => reporter.step(
            "lock-wait",
            &format!("{what}: lock not granted in time (attempt {attempt}); trying again"),
        ),
    }
}

/// Dies by SIGKILL when `HOIST_FAULT_KILL_AT` is `expand-<step>` (the crash tests).
pub fn fault_point(step: hoist_db::expand::ExpandStep) {
    hoist_site::fault_at(&format!("expand-{}", step.as_str()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn serving(release: &str, role: Role, side: Side) -> Serving {
        Serving {
            running: Running {
                release: release.to_owned(),
                role,
                until: None,
            },
            side,
        }
    }

    #[test]
    fn a_contract_is_refused_naming_the_old_side_and_the_way_out() {
        let here = [
            serving("v2", Role::Live, Side::New),
            serving("v1", Role::Warm, Side::Old),
        ];
        let refused = refuse(End::Complete, "0005_rename", &here).unwrap_err();
        let message = refused.to_string();
        assert!(message.contains("`v1` (warm)"), "{message}");
        assert!(
            message.contains("`0005_rename`") && !message.contains("`v2`"),
            "{message}"
        );
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(hint.contains("rollback window"), "{hint}");
        // The abort drops what v2 reads: refused the other way round.
        let refused = refuse(End::Abort, "0005_rename", &here).unwrap_err();
        assert!(refused.to_string().contains("`v2` (live)"), "{refused}");
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(hint.contains("hoist rollback"), "{hint}");
    }

    #[test]
    fn nothing_on_the_dropped_side_lets_it_through() {
        let here = [serving("v2", Role::Current, Side::New)];
        assert!(refuse(End::Complete, "0005_rename", &here).is_ok());
        let here = [serving("v1", Role::Current, Side::Old)];
        assert!(refuse(End::Abort, "0005_rename", &here).is_ok());
        assert!(refuse(End::Complete, "0005_rename", &[]).is_ok());
    }
}
