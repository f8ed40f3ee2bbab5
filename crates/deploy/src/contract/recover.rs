//! `hoist recover` of a contract or an abort killed mid-way.
//!
//! - `begin`: nothing reached the database; recorded as interrupted.
//! - `complete` / `abort-expand`: the engine resumes from the state it
//!   keeps in the database (a contract half done has no way back). When
//!   the engine had not begun yet, what serves is checked again first.
//! - `record`: the work is done; only the ledger row is written.
//!
//! A deploy or a rollback killed during its own `complete` or
//! `abort-expand` step is the deploy's and the rollback's recovery
//! (`crate::expansion::recover`, `crate::switch`).

use super::{execute, prepare, ContractError, Contracted, End};
use crate::{Context, DeployError, Reporter, Schema};
use hoist_config::Config;
use hoist_ledger::Outcome;
use hoist_site::{Journal, JournalRecord, Step};

/// Finishes (or records as interrupted) a `db-complete` or `db-abort`;
/// returns the action and, when it finished it here, what it did.
pub(crate) fn recover(
    context: &Context,
    journal: &mut Journal,
    record: &JournalRecord,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<(&'static str, Option<Contracted>), DeployError> {
    let mut done = None;
    let end = End::of(record.op).expect("a db-complete or db-abort");
    let recorded = context.ledger.has_event(&record.op_id)?;
    let (action, outcome, detail) = match record.step {
        Step::Begin => (
            "cleaned-up",
            Outcome::Interrupted,
            format!(
                "stopped before it changed anything; `hoist recover` cleaned up (run `hoist {}` again)",
                end.command()
            ),
        ),
        Step::Record => ("finished", Outcome::Ok, finished_detail(record, None)),
        _ => match finish(context, record, config, reporter) {
            Ok(contracted) => {
                let detail = finished_detail(record, contracted.as_ref());
                done = contracted;
                ("finished", Outcome::Ok, detail)
            }
            // Refused or failed again: the interruption is cleared, the
            // operation did not happen (a refusal changes nothing).
            Err(error) => (
                "not-finished",
                Outcome::Failed,
                format!("`hoist recover` could not finish it: {error}"),
            ),
        },
    };
    if !recorded {
        super::record(context, journal, outcome, detail, reporter);
    }
    crate::activate::journal_done(context, journal)?;
    Ok((action, done))
}

fn finish(
    context: &Context,
    record: &JournalRecord,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<Option<Contracted>, DeployError> {
    let end = End::of(record.op).expect("a db-complete or db-abort");
    let schema = schema_of(context, record, config)?;
    let Some(prepared) = prepare(context, &schema, end)? else {
        return Ok(None);
    };
    reporter.step(
        "recover",
        &format!(
            "finishing the interrupted {} of `{}`",
            end.command(),
            prepared.name
        ),
    );
    execute(context, &schema, end, prepared, reporter).map(Some)
}

fn finished_detail(record: &JournalRecord, contracted: Option<&Contracted>) -> String {
    let done = contracted.map_or_else(
        || "the expansion had ended already".to_owned(),
        super::detail,
    );
    format!(
        "finished by `hoist recover` after stopping during `{}`: {done}",
        record.step
    )
}

/// The database the operation ran on: the `[database]` of the release
/// live when it began (with the site's settings over it), else the site's.
fn schema_of(
    context: &Context,
    record: &JournalRecord,
    config: Option<&Config>,
) -> Result<Schema, DeployError> {
    let release = record.from.as_deref().unwrap_or(&record.release);
    if let Some(schema) = crate::deploy::schema_for(context, release, config)? {
        return Ok(schema);
    }
    let database = context
        .site_settings()?
        .and_then(|site| site.database())
        .ok_or_else(|| ContractError::NoDatabase {
            op: record.op.to_string(),
            release: release.to_owned(),
        })?;
    Schema::for_release(context, &database, release)
}
