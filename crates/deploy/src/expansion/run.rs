//! Running a switch's expand and contract: the contract a new expansion
//! needs first, then the expand (or join), each a journaled step, and the
//! target's recorded `search_path`.

use super::{Action, ExpandReport, Expansion};
use crate::schema::Schema;
use crate::{engine, Context, DeployError, End, Reporter};
use hoist_db::expand::ExpandEvent;
use hoist_db::Migration;
use hoist_site::{Journal, Step};

/// Contracts the open expansion a new one needs out of the way, before
/// anything else of the target's migrations runs (they were written
/// against the contracted shape): `hoist db complete`'s work, journaled as
/// the deploy's step `complete`. Returns the report to go on with.
pub(crate) fn contract_first(
    context: &Context,
    journal: &mut Journal,
    expansion: &Expansion,
    reporter: &dyn Reporter,
) -> Result<Option<ExpandReport>, DeployError> {
    let Action::Expand {
        complete: Some(_), ..
    } = &expansion.action
    else {
        return Ok(None);
    };
    complete(context, journal, &expansion.schema, reporter).map(Some)
}

/// Contracts the open expansion (it checks again that no release on its
/// old side serves here), then every release uses the base schema.
pub(super) fn complete(
    context: &Context,
    journal: &mut Journal,
    schema: &Schema,
    reporter: &dyn Reporter,
) -> Result<ExpandReport, DeployError> {
    let contracted = crate::contract::end_in(context, schema, End::Complete, journal, reporter)?;
    let mut report = ExpandReport::base(schema);
    if let Some(finished) = contracted.finished {
        report.completed = Some(finished.name);
        report.retries = finished.retries;
    }
    Ok(report)
}

/// Runs `expansion` for the journal's target, after [`contract_first`]
/// (whose report it goes on with): the expand or join, then records the
/// target's `search_path`.
pub(crate) fn run(
    context: &Context,
    journal: &mut Journal,
    expansion: &Expansion,
    so_far: Option<ExpandReport>,
    reporter: &dyn Reporter,
) -> Result<ExpandReport, DeployError> {
    let release = journal.record().release.clone();
    let schema = &expansion.schema;
    let mut report = so_far.unwrap_or_else(|| ExpandReport::base(schema));
    let migration = match &expansion.action {
        Action::Base => {
            write_search_path(context, &release, schema, None)?;
            return Ok(report);
        }
        Action::Join { open } => {
            journal.step(Step::Expand)?;
            reporter.step(
                "expand",
                &format!("`{release}` joins the expansion `{open}`"),
            );
            let view = engine::expander(schema)?.join(&release)?;
            write_search_path(context, &release, schema, view.as_deref())?;
            report.joined(open, view);
            return Ok(report);
        }
        Action::Expand { migration, .. } => migration,
    };
    journal.step(Step::Expand)?;
    let expanded = expand(schema, migration, &release, reporter)?;
    report.expanded(expanded);
    write_search_path(context, &release, schema, Some(&report.schema))?;
    reporter.step("expand", &report.summary());
    Ok(report)
}

/// Expands `migration` for `release`, reporting each step and batch; a
/// crash test can kill hoist at each step (`HOIST_FAULT_KILL_AT=expand-<step>`).
pub(super) fn expand(
    schema: &Schema,
    migration: &Migration,
    release: &str,
    reporter: &dyn Reporter,
) -> Result<hoist_db::expand::Expanded, DeployError> {
    reporter.step(
        "expand",
        &format!(
            "`{}` for `{release}` on {}",
            migration.name,
            schema.redacted()
        ),
    );
    if let Some(op) = crate::rollback_expand::missing_down(migration) {
        reporter.warn(&format!(
            "`{}`'s op {op} (`sql`) has no `down`: no abort can undo it, so neither `hoist db abort` nor `hoist rollback --with-db` can remove this expansion, only `hoist db complete` ends it; give the op a `down` to keep that way back",
            migration.name
        ));
    }
    let mut events = |event: ExpandEvent<'_>| engine::on_event(event, reporter);
    Ok(engine::expander(schema)?.expand(migration, release, &mut events)?)
}

/// Records the `search_path` `release`'s processes start with: its view
/// schema in front of the base one, or the base one alone.
pub(super) fn write_search_path(
    context: &Context,
    release: &str,
    schema: &Schema,
    view: Option<&str>,
) -> Result<(), DeployError> {
    let base = schema.expand.base_schema.clone();
    let path: Vec<String> = match view {
        Some(view) if view != base => vec![view.to_owned(), base],
        _ => vec![base],
    };
    hoist_site::write_db_schema(&context.site, release, &path)?;
    Ok(())
}
