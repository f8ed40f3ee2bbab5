//! `rollback --with-db` before contract: the route is back on the older
//! release, whose shape the expansion never took away; the newer
//! release's warm processes are stopped, then the expansion is removed
//! (new columns, triggers, view schemas) by `hoist db abort`'s own path
//! ([`crate::contract::end_in`]). No down runs and no row is lost.

use crate::schema::Schema;
use crate::{Context, DeployError, End, Reporter};
use hoist_db::expand::Finished;
use hoist_site::Journal;

/// Stops the newer release, then removes the open expansion (refused
/// while a release on its new side still serves here); `None` when none
/// is open (or the database is not PostgreSQL).
pub(crate) fn after_rollback(
    context: &Context,
    journal: &mut Journal,
    schema: &Schema,
    reporter: &dyn Reporter,
) -> Result<Option<Finished>, DeployError> {
    let release = journal.record().release.clone();
    let Some(open) = crate::engine::status(schema)?.and_then(|status| status.open) else {
        return Ok(None);
    };
    let not_removed = |problem: String| DeployError::ExpansionNotAborted {
        release: release.clone(),
        open: open.name.clone(),
        problem,
        fix: "`hoist db abort` removes it once nothing on its new shape serves".to_owned(),
    };
    if let (Some(agent), Some(newer)) = (&context.agent, &journal.record().from) {
        reporter.step(
            "abort",
            &format!(
                "stopping `{newer}`, which runs on `{}`'s new shape",
                open.name
            ),
        );
        agent.retire(newer).map_err(not_removed)?;
    }
    match crate::contract::end_in(context, schema, End::Abort, journal, reporter) {
        Ok(contracted) => Ok(contracted.finished),
        // No abort can undo it: say what does end it, not `db abort`.
        Err(error) if hoist_error::Described::kind(&error) == "cannot-abort" => {
            Err(DeployError::ExpansionNotAborted {
                release: release.clone(),
                open: open.name.clone(),
                problem: error.to_string(),
                fix: format!("no abort can remove it; `hoist db complete` ends it once a release with `{}` serves again", open.name),
            })
        }
        Err(error) => Err(not_removed(error.to_string())),
    }
}
