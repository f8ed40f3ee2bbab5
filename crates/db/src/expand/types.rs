//! What expand, contract and abort report, and the settings they run with.

use serde::Serialize;
use std::time::Duration;

/// How an expansion runs.
#[derive(Debug, Clone)]
pub struct ExpandOptions {
    /// Each DDL waits at most this long for its lock (`SET lock_timeout`)
    /// and is then tried again, so it never queues behind a long query
    /// with the site's requests queued behind it.
    pub lock_timeout: Duration,
    /// How many times a DDL that timed out is tried again, with a growing pause.
    pub retries: u32,
    /// Rows per backfill batch; each batch is one short transaction.
    pub batch_rows: u32,
    /// The pause between batches, so the live release's writes go first.
    pub batch_pause: Duration,
    /// The schema the tables live in (and the old release reads).
    pub base_schema: String,
    /// Who runs it (`user@host`), for the history row.
    pub who: String,
    /// How long expand, complete and abort wait for another migrator (a
    /// classic `hoist db migrate`, or another host's expand) to let go of
    /// the migrators' advisory lock; the deploy layer sets it from
    /// `[database] lock_timeout`, which means the same for classic runs.
    pub lock_wait: Duration,
    /// `hoist db abort --sql-undone`: the operator undid by hand what the
    /// `sql` ops without a `down` did, so abort removes the rest instead
    /// of refusing ([`crate::DbError::CannotAbort`]).
    pub sql_undone: bool,
}

impl Default for ExpandOptions {
    fn default() -> ExpandOptions {
        ExpandOptions {
            lock_timeout: Duration::from_millis(500),
            retries: 20,
            batch_rows: 1000,
            batch_pause: Duration::from_millis(10),
            base_schema: "public".into(),
            who: String::new(),
            lock_wait: Duration::from_secs(60),
            sql_undone: false,
        }
    }
}

/// Where an expansion got to; recorded in the database with each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpandStep {
    /// Recorded, nothing changed yet.
    Begin,
    /// New columns (hidden), new tables, `sql` ops.
    Columns,
    /// Triggers that keep old and new columns in step.
    Triggers,
    /// Existing rows get their new values, a batch at a time.
    Backfill,
    /// Constraints validated, indexes built concurrently.
    Constraints,
    /// The release's view schema.
    Views,
    /// Done: both shapes are served.
    Expanded,
    /// Contract under way.
    Completing,
    /// Abort under way.
    Aborting,
}

impl ExpandStep {
    /// Its name (`columns`, `backfill`...), as the fault tests and status say it.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpandStep::Begin => "begin",
            ExpandStep::Columns => "columns",
            ExpandStep::Triggers => "triggers",
            ExpandStep::Backfill => "backfill",
            ExpandStep::Constraints => "constraints",
            ExpandStep::Views => "views",
            ExpandStep::Expanded => "expanded",
            ExpandStep::Completing => "completing",
            ExpandStep::Aborting => "aborting",
        }
    }

    /// The step named `name` ([`ExpandStep::as_str`]'s inverse).
    pub fn parse(name: &str) -> Option<ExpandStep> {
        ExpandStep::ALL
            .into_iter()
            .find(|step| step.as_str() == name)
    }

    /// Every step, in order.
    pub const ALL: [ExpandStep; 9] = [
        ExpandStep::Begin,
        ExpandStep::Columns,
        ExpandStep::Triggers,
        ExpandStep::Backfill,
        ExpandStep::Constraints,
        ExpandStep::Views,
        ExpandStep::Expanded,
        ExpandStep::Completing,
        ExpandStep::Aborting,
    ];
}

/// A table's backfill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backfill {
    /// The table.
    pub table: String,
    /// Rows done.
    pub done: u64,
    /// Rows to do: an estimate (the planner's, from `pg_class`, when the
    /// backfill began), raised to `done` when more were done, so never
    /// below it.
    pub total: u64,
    /// Every batch ran.
    pub finished: bool,
}

/// An expansion in progress or done but not contracted.
#[derive(Debug, Clone, Serialize)]
pub struct OpenExpansion {
    /// The migration's version.
    pub version: u64,
    /// Its file stem, `0005_rename_name`.
    pub name: String,
    /// Its `description`.
    pub description: Option<String>,
    /// Where it got to.
    pub step: ExpandStep,
    /// The releases that run on the new shape, each through its view schema.
    pub new_releases: Vec<String>,
    /// When it began (RFC 3339) and who began it.
    pub started_at: String,
    /// `user@host`.
    pub started_by: String,
    /// Each table's backfill.
    pub backfill: Vec<Backfill>,
    /// Why it stopped, when a step failed (`step `backfill` (backfill
    /// `users`): ERROR: division by zero`): it did not reach `expanded`,
    /// so `hoist db abort` undoes it, or a deploy once the cause is fixed
    /// resumes it. `None` once a later run gets past the step.
    pub failed: Option<String>,
    /// Rows whose value the trigger could not compute on a write (the
    /// write went on), as recorded: a later write may have mended some.
    /// Contract computes them again and is refused while one still fails.
    pub faults: u64,
    /// The first few of them, each `` `users` row {"id": 5}: the new `score` (ERROR: division by zero) ``.
    pub fault_rows: Vec<String>,
    /// The first `sql` op (1-based) with no `down`: `hoist db abort`
    /// cannot undo it, so it refuses (until that op's SQL is undone by
    /// hand and `--sql-undone` says so). `None`: abort can remove it.
    pub no_down: Option<usize>,
}

/// A view schema hoist made, and for which release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewSchema {
    /// `hoist_<release>`.
    pub schema: String,
    /// The release it serves.
    pub release: String,
}

/// `hoist db status`'s expand part.
#[derive(Debug, Clone, Serialize)]
pub struct ExpandStatus {
    /// The open expansion, if any (one at a time).
    pub open: Option<OpenExpansion>,
    /// The view schemas that exist.
    pub view_schemas: Vec<ViewSchema>,
}

/// What happens while an expansion, contract or abort runs.
#[derive(Debug, Clone)]
pub enum ExpandEvent<'a> {
    /// A step is about to run (after it is recorded).
    Step(ExpandStep),
    /// A backfill batch committed.
    Backfilled {
        /// The table.
        table: &'a str,
        /// Rows done so far.
        done: u64,
        /// Rows to do: an estimate, never below `done` (as [`Backfill::total`]).
        total: u64,
    },
    /// A DDL gave up waiting for its lock and will be tried again.
    Retry {
        /// What it was doing.
        what: &'a str,
        /// The attempt that timed out (1-based).
        attempt: u32,
    },
}

/// What an expand did.
#[derive(Debug, Clone, Serialize)]
pub struct Expanded {
    /// The migration's version and name.
    pub version: u64,
    /// `0005_rename_name`.
    pub name: String,
    /// The release's view schema.
    pub schema: String,
    /// It picked up an expansion a crash (or another host) left.
    pub resumed: bool,
    /// Each table's backfill.
    pub backfill: Vec<Backfill>,
    /// The longest backfill batch transaction, in milliseconds: the
    /// longest any row lock of the backfill was held.
    pub longest_batch_ms: u64,
    /// DDL retries after a lock timeout.
    pub retries: u32,
}

/// What a contract or an abort did.
#[derive(Debug, Clone, Serialize)]
pub struct Finished {
    /// The migration's version and name.
    pub version: u64,
    /// `0005_rename_name`.
    pub name: String,
    /// View schemas dropped.
    pub dropped_schemas: Vec<String>,
    /// Columns and tables dropped (`users.name`).
    pub dropped: Vec<String>,
    /// Columns renamed into place (`users._hoist_new_amount → amount`).
    pub renamed: Vec<String>,
    /// DDL retries after a lock timeout.
    pub retries: u32,
}
