//! `rollback --with-db` before contract: the route is back on the older
//! release, whose shape the expansion never took away; the newer
//! release's warm processes are stopped, then the expansion is removed
//! (new columns, triggers, view schemas). No down runs and no row is lost.

use crate::schema::Schema;
use crate::{Context, DeployError, Reporter};
use hoist_db::expand::Finished;
use hoist_site::Journal;

/// Removes the open expansion once nothing on its new side serves here;
/// `None` when none is open (or the database is not PostgreSQL).
// TODO(issue 17, H2b): call `crate::contract::abort` once it exists, so
// `hoist db abort` and this share one path (its checks and ledger row).
pub(crate) fn after_rollback(
    context: &Context,
    journal: &Journal,
    schema: &Schema,
    reporter: &dyn Reporter,
) -> Result<Option<Finished>, DeployError> {
    let release = journal.record().release.clone();
    let not_removed = |open: &str, problem: String| DeployError::ExpansionNotAborted {
        release: release.clone(),
        open: open.to_owned(),
        problem,
    };
    let Some(status) = crate::expansion::status(schema)? else {
        return Ok(None);
    };
    let Some(open) = status.open else {
        return Ok(None);
    };
    if let (Some(agent), Some(newer)) = (&context.agent, &journal.record().from) {
        reporter.step(
            "abort",
            &format!(
                "stopping `{newer}`, which runs on `{}`'s new shape",
                open.name
            ),
        );
        agent
            .retire(newer)
            .map_err(|problem| not_removed(&open.name, problem))?;
    }
    let serving = new_side_serving(context, &open)?;
    if !serving.is_empty() {
        let names: Vec<String> = serving.iter().map(|r| format!("`{r}`")).collect();
        return Err(not_removed(
            &open.name,
            format!("{} still serve(s) on its new shape", names.join(", ")),
        ));
    }
    reporter.step("abort", &format!("removing the expansion `{}`", open.name));
    let mut events =
        |event: hoist_db::expand::ExpandEvent<'_>| crate::expansion::on_event(event, reporter);
    let finished = crate::expansion::expander(schema)?
        .abort(&mut events)
        .map_err(|error| not_removed(&open.name, error.to_string()))?;
    hoist_site::rebase_db_schemas(&context.site, &schema.expand.base_schema)?;
    Ok(Some(finished))
}

/// The releases serving here that run on `open`'s new shape.
fn new_side_serving(
    context: &Context,
    open: &hoist_db::expand::OpenExpansion,
) -> Result<Vec<String>, DeployError> {
    let serving = match &context.agent {
        Some(agent) => agent
            .serving()
            .map_err(|problem| DeployError::ExpansionNotAborted {
                release: context.site.live().ok().flatten().unwrap_or_default(),
                open: open.name.clone(),
                problem: format!("cannot tell which releases the agent runs: {problem}"),
            })?,
        None => context.site.live()?.into_iter().collect(),
    };
    Ok(serving
        .into_iter()
        .filter(|release| open.new_releases.contains(release))
        .collect())
}
