//! A deploy whose expand failed before its switch: what the expansion
//! built goes again, so the live release runs on exactly the database it
//! had. A half-built expansion is not harmless: its triggers already run
//! the new release's expressions on every write the live release makes
//! (a `backfill` that divides by zero fails the live release's inserts).
//!
//! The removal is `hoist db abort`'s own path ([`crate::contract::end_in`]),
//! journaled as the deploy's step `abort-expand`, so `hoist recover` of a
//! kill during it removes the rest. When the removal fails too, the error
//! says what stays, what it breaks, and that `hoist db abort` removes it.

use super::{Action, Expansion};
use crate::{activate, Context, DeployError, End, Reporter, Schema};
use hoist_db::Migration;
use hoist_site::Journal;

/// The expand and contract before the switch failed with `error`: removes
/// the expansion the deploy was building (when it was building one),
/// records the failed deploy, ends the journal, and returns the error to
/// report.
pub(crate) fn failed(
    context: &Context,
    journal: &mut Journal,
    expansion: Option<&Expansion>,
    error: &DeployError,
    reporter: &dyn Reporter,
) -> DeployError {
    let live = journal.record().from.clone().unwrap_or_default();
    let (left, fix) = match expansion.map(|expansion| (&expansion.schema, &expansion.action)) {
        Some((schema, Action::Expand { migration, .. })) => {
            remove(context, journal, schema, migration, &live, error, reporter)
        }
        // Contract first refused: rows the open expansion could not
        // compute. Nothing changed, and nothing resumes until they are
        // mended.
        _ if hoist_error::Described::kind(error) == "expand-faults" => (
            "the open expansion stays as it was, both shapes served".to_owned(),
            "mend the rows this error lists (in `psql`, update their old columns so the expression works), then deploy again".to_owned(),
        ),
        // A contract half done has no way back, and a join built nothing
        // the live release uses: the same deploy resumes either.
        _ => (
            "the database says where it stopped (`hoist db status`); deploying again resumes it"
                .to_owned(),
            "deploy again (it resumes where it stopped), or see `hoist db status`".to_owned(),
        ),
    };
    let kind = match hoist_error::Described::kind(error) {
        "expand-faults" => "expand-faults",
        _ => "expand-failed",
    };
    let failure = DeployError::ExpandFailed {
        live,
        problem: problem(error),
        left,
        fix,
        kind,
    };
    match activate::failed(context, journal, &failure.to_string(), false, reporter) {
        DeployError::CandidateFailed { .. } => failure,
        journal_error => journal_error,
    }
}

/// What `error` says went wrong, without the engine's own way out
/// ("run the same command again to resume, or `hoist db abort`"): once
/// the deploy removed its expansion again that is untrue, and the
/// deploy's `left` and `fix` say what is.
pub(super) fn problem(error: &DeployError) -> String {
    match error {
        DeployError::Db(db) => db.problem(),
        other => other.to_string(),
    }
}

/// Removes the expansion of `migration` (only that one: another open
/// expansion is not this deploy's) after `error`; returns what stays and
/// the way out.
pub(super) fn remove(
    context: &Context,
    journal: &mut Journal,
    schema: &Schema,
    migration: &Migration,
    live: &str,
    error: &DeployError,
    reporter: &dyn Reporter,
) -> (String, String) {
    let name = &migration.name;
    // A lock never granted: nothing in the migration is wrong.
    let again = match hoist_error::Described::kind(error) {
        "lock-timeout" => format!(
            "deploy again once the transaction holding the table has ended (`pg_stat_activity` shows it); nothing in `{name}` needs fixing"
        ),
        _ => format!("fix `{name}` and deploy again"),
    };
    let removed = (|| {
        let open = crate::engine::status(schema)?.and_then(|status| status.open);
        if !matches!(open, Some(open) if open.version == migration.version) {
            return Ok(false);
        }
        reporter.step(
            "abort",
            &format!(
                "removing the failed expansion of `{name}`, so `{live}` keeps the database it had"
            ),
        );
        crate::contract::end_in(context, schema, End::Abort, journal, reporter)
            .map(|contracted| contracted.finished.is_some())
    })();
    match removed {
        Ok(true) => (
            format!("the expansion of `{name}` was removed again (as `hoist db abort` does), so the database is as it was before this deploy"),
            again,
        ),
        Ok(false) => (format!("nothing of `{name}` stays in the database"), again),
        // An `sql` op without `down` already ran: no abort can undo it.
        Err(abort) if hoist_error::Described::kind(&abort) == "cannot-abort" => (
            format!(
                "it cannot be removed ({abort}), so the half-built expansion of `{name}` stays: its triggers on {} run its expressions on every write `{live}` makes there, which can fail those writes; fix `{name}`'s failing op and deploy again, which resumes it",
                tables(migration)
            ),
            format!("fix `{name}` and deploy again (it resumes the expansion)"),
        ),
        Err(abort) => (
            format!(
                "removing it failed too ({abort}), so the half-built expansion of `{name}` stays: its triggers on {} run its expressions on every write `{live}` makes there, which can fail those writes; `hoist db abort` removes it",
                tables(migration)
            ),
            "hoist db abort".to_owned(),
        ),
    }
}

/// The tables `migration` changes, for messages (`users`, `orders`).
fn tables(migration: &Migration) -> String {
    let mut tables: Vec<String> = migration
        .change
        .iter()
        .flat_map(|change| change.ops.iter().filter_map(|op| op.table()))
        .map(|table| format!("`{table}`"))
        .collect();
    tables.dedup();
    match tables.is_empty() {
        true => "its tables".to_owned(),
        false => tables.join(", "),
    }
}
