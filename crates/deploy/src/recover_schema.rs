//! `hoist recover` of a deploy (or hold) killed after its `phase = pre`
//! migrations ran but before the switch: the live release stays, so the
//! schema goes back too. The downs of exactly the migrations that deploy
//! applied (noted in the journal before they ran) run from the release's
//! own migrations, which is why the release stays on disk either way.

use crate::schema::{self, Schema};
use crate::{Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_db::Undo;
use hoist_site::{JournalRecord, Op};

/// What recovery did with the interrupted deploy's migrations.
#[derive(Debug, Default)]
pub(crate) struct SchemaUndo {
    /// Migrations undone.
    pub(crate) undone: Vec<String>,
    /// Why some stay applied, and the command that undoes them.
    pub(crate) left: Option<String>,
    /// The expansion (or contract) the interrupted deploy began, finished.
    pub(crate) expanded: Option<crate::ExpandReport>,
    /// The `db complete` or `db abort` finished: what it dropped, renamed
    /// and rebased, as the command itself reports it.
    pub(crate) contracted: Option<crate::Contracted>,
}

/// Undoes the migrations `record`'s operation applied before its switch.
pub(crate) fn undo_migrations(
    context: &Context,
    record: &JournalRecord,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> SchemaUndo {
    if !matches!(record.op, Op::Deploy | Op::Hold) || record.migrating.is_empty() {
        return SchemaUndo::default();
    }
    let schema = match crate::deploy::schema_for(context, &record.release, config) {
        Ok(Some(schema)) => schema,
        Ok(None) => return SchemaUndo::default(),
        Err(error) => return left(record, None, &error.to_string(), reporter),
    };
    let names = record
        .migrating
        .iter()
        .map(|version| format!("{version:04}"))
        .collect::<Vec<_>>()
        .join(", ");
    reporter.step(
        "migrate",
        &format!("undoing {names}, run by the interrupted {}", record.op),
    );
    let undo = Undo::Versions(record.migrating.clone());
    match schema::db_rollback(context, &schema, &undo, false) {
        Ok(report) => SchemaUndo {
            undone: report.ran,
            ..SchemaUndo::default()
        },
        Err(error) => left(record, Some(&schema), &error.to_string(), reporter),
    }
}

/// The downs could not run: say which command gets out, and keep going.
fn left(
    record: &JournalRecord,
    schema: Option<&Schema>,
    problem: &str,
    reporter: &dyn Reporter,
) -> SchemaUndo {
    let keep = record
        .migrating
        .iter()
        .min()
        .map_or(0, |v| v.saturating_sub(1));
    let dir = schema.map_or_else(
        || format!("releases/{}/migrations", record.release),
        |schema| schema.migrations_dir.display().to_string(),
    );
    let text = format!(
        "the migrations the interrupted {} ran before its switch could not be undone ({problem}); they stay applied and `{}` stays on disk; `hoist db rollback --to {keep} --migrations {dir}` undoes them (or undo them by hand, then `hoist db repair N --undone`)",
        record.op, record.release
    );
    reporter.warn(&text);
    SchemaUndo {
        left: Some(text),
        ..SchemaUndo::default()
    }
}

/// Finishes the contract or expansion a deploy killed during `complete`
/// or `expand` began (the database says how far it got); the deploy
/// itself is then cleaned up, the live release kept. A failure is told,
/// with the commands that get out, and does not stop the clean-up: the
/// live release runs on its own shape either way.
pub(crate) fn finish_expansion(
    context: &Context,
    journal: &mut hoist_site::Journal,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> SchemaUndo {
    let record = journal.record().clone();
    match crate::expansion::recover(context, journal, config, reporter) {
        Ok(expanded) => SchemaUndo {
            expanded,
            ..SchemaUndo::default()
        },
        Err(error @ DeployError::ExpandFailed { .. }) => {
            let text = error.to_string();
            reporter.warn(&text);
            SchemaUndo {
                left: Some(text),
                ..SchemaUndo::default()
            }
        }
        Err(error) => {
            let text = format!(
                "the expansion the interrupted {} of `{}` began could not be finished ({error}); the live release keeps its shape. `hoist db status` shows where it stopped; deploying `{}` again resumes it, `hoist db abort` removes it",
                record.op, record.release, record.release
            );
            reporter.warn(&text);
            SchemaUndo {
                left: Some(text),
                ..SchemaUndo::default()
            }
        }
    }
}
