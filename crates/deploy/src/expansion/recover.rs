//! `hoist recover` of a deploy killed during its `complete` or `expand`
//! step: the same call runs again (an expand that fails again is removed,
//! as the deploy does); killed during its `abort-expand` (removing a
//! failed expansion): the removal runs again.

use super::run::{complete, expand, write_search_path};
use super::{plan, Action, ExpandReport};
use crate::{Context, DeployError, Reporter};
use hoist_db::Target;
use hoist_site::{Journal, Step};

/// `hoist recover` after a kill during `complete` or `expand` (before the
/// switch): the same call runs again and finishes what the database says
/// it began, so the database is left in a state both sides run on; the
/// live release stays (the caller cleans the deploy up). Returns what it
/// finished, to report.
pub(crate) fn recover(
    context: &Context,
    journal: &mut Journal,
    config: Option<&hoist_config::Config>,
    reporter: &dyn Reporter,
) -> Result<Option<ExpandReport>, DeployError> {
    let record = journal.record().clone();
    let Some(schema) = crate::deploy::schema_for(context, &record.release, config)? else {
        return Ok(None);
    };
    if !matches!(schema.target, Target::Postgres(_)) {
        return Ok(None);
    }
    let mut report = ExpandReport::base(&schema);
    if record.step == Step::AbortExpand {
        // The deploy's expand had failed; it was removing what it built.
        reporter.step("recover", "removing the expansion whose expand failed");
        let removed =
            crate::contract::end_in(context, &schema, crate::End::Abort, journal, reporter)?;
        report.action = super::ExpandAction::Removed;
        report.migration = removed.finished.map(|finished| finished.name);
        return Ok(report.migration.is_some().then_some(report));
    }
    if record.step == Step::Complete {
        reporter.step("recover", "finishing the contract the deploy began");
        let report = complete(context, journal, &schema, reporter)?;
        return Ok(report.completed.is_some().then_some(report));
    }
    // As planned by the deploy, but never contracting: that was a step of its own.
    let Some(expansion) = plan(context, &schema, &record.release, true)? else {
        return Ok(None);
    };
    match &expansion.action {
        Action::Base => return Ok(None),
        Action::Join { open } => {
            let view = crate::engine::expander(&schema)?.join(&record.release)?;
            write_search_path(context, &record.release, &schema, view.as_deref())?;
            report.joined(open, view);
        }
        Action::Expand { migration, .. } => {
            reporter.step(
                "recover",
                &format!("finishing the expansion of `{}`", migration.name),
            );
            let expanded = match expand(&schema, migration, &record.release, reporter) {
                Ok(expanded) => expanded,
                // As a deploy does: a half-built expansion breaks the live release's writes.
                Err(error) => {
                    let live = record.from.clone().unwrap_or_default();
                    let (left, fix) = super::failed::remove(
                        context, journal, &schema, migration, &live, &error, reporter,
                    );
                    return Err(DeployError::ExpandFailed {
                        live,
                        problem: super::failed::problem(&error),
                        left,
                        fix,
                        kind: "expand-failed",
                    });
                }
            };
            write_search_path(context, &record.release, &schema, Some(&expanded.schema))?;
            report.expanded(expanded);
        }
    }
    Ok(Some(report))
}
