//! The ledger rows of `hoist db ...`: every change, and every failure to
//! make one (a database that does not exist included), with its real
//! duration. A db operation keeps the live release: `from` = `to` = live.

use crate::{Context, DeployError};
use hoist_db::RunReport;
use hoist_ledger::{Event, Outcome};

/// A db event begun at `started`, finished now.
pub(crate) fn one_off(context: &Context, op: &str, started: jiff::Timestamp) -> Event {
    let live = context.site.live().ok().flatten();
    let finished_at = jiff::Timestamp::now();
    Event {
        from: live.clone(),
        to: live,
        started_at: started,
        finished_at,
        duration_ms: finished_at.duration_since(started).as_millis().max(0) as u64,
        ..Event::one_off(op, hoist_site::user_name(), hoist_site::host_name())
    }
}

/// Records a one-off db operation: `Ok(detail)` or the error that stopped it.
pub(crate) fn record_one(
    context: &Context,
    op: &str,
    started: jiff::Timestamp,
    result: Result<String, &DeployError>,
) -> Result<(), DeployError> {
    let mut event = one_off(context, op, started);
    match result {
        Ok(detail) => event.detail = Some(detail),
        Err(error) => {
            event.outcome = Outcome::Failed;
            event.detail = Some(error.to_string());
        }
    }
    context.ledger.record(&event)?;
    Ok(())
}

/// Records a migrate or rollback that changed (or failed to change) something.
pub(crate) fn record_run(
    context: &Context,
    op: &str,
    started: jiff::Timestamp,
    dry_run: bool,
    result: &Result<RunReport, DeployError>,
) -> Result<(), DeployError> {
    let mut event = one_off(context, op, started);
    match result {
        Ok(report) if report.dry_run || report.ran.is_empty() => return Ok(()),
        Err(_) if dry_run => return Ok(()),
        Ok(report) => {
            let backup = report
                .backup
                .as_ref()
                .map_or("none".to_owned(), |path| path.display().to_string());
            event.detail = Some(format!(
                "{} {}: {}; backup: {backup}",
                report.database,
                report.direction,
                report.ran.join(", ")
            ));
            event.migrations = report.ran.clone();
        }
        Err(error) => {
            event.outcome = Outcome::Failed;
            event.detail = Some(error.to_string());
        }
    }
    context.ledger.record(&event)?;
    Ok(())
}
