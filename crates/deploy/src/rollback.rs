//! `hoist rollback [--to ID]`: one step back, through the same switch path as a deploy.

use crate::activate::{self, activate, record_success, SWITCH};
use crate::status::previous_release;
use crate::{verify, Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_ledger::ReleaseState;
use hoist_site::Journal;
use serde::Serialize;

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// The release now live.
    pub release: String,
    /// The release rolled back from.
    pub from: Option<String>,
    /// Wall time.
    pub duration_ms: u64,
}

/// Makes the held candidate `release` live for everyone (`hoist promote`);
/// recorded as a `promote`, with the same checks and switch as a rollback.
pub fn promote(
    context: &Context,
    release: &str,
    reason: Option<String>,
    reporter: &dyn Reporter,
) -> Result<RollbackReport, DeployError> {
    switch_release(context, Some(release), None, reason, reporter, "promote")
}

/// Rolls back to `to`, or to the previous release.
pub fn rollback(
    context: &Context,
    to: Option<&str>,
    config: Option<&Config>,
    reason: Option<String>,
    reporter: &dyn Reporter,
) -> Result<RollbackReport, DeployError> {
    switch_release(context, to, config, reason, reporter, "rollback")
}

fn switch_release(
    context: &Context,
    to: Option<&str>,
    config: Option<&Config>,
    reason: Option<String>,
    reporter: &dyn Reporter,
    op: &str,
) -> Result<RollbackReport, DeployError> {
    let started = std::time::Instant::now();
    context.refuse_if_pending()?;
    let lock = context.lock(op, reporter)?;
    context.refuse_if_pending()?;
    let live = context.site.live()?;
    let target = match to {
        Some(to) => to.to_owned(),
        None => previous_release(context, live.as_deref())?.ok_or(DeployError::NoPrevious)?,
    };
    if live.as_deref() == Some(target.as_str()) {
        reporter.step(
            "noop",
            &format!("`{target}` is already live; nothing to do"),
        );
        lock.release()?;
        return Ok(RollbackReport {
            release: target,
            from: live,
            duration_ms: 0,
        });
    }
    if !context.site.release_dir(&target).is_dir() {
        return Err(DeployError::UnknownRelease(target));
    }
    if let Some(row) = context.ledger.release(&target)? {
        if row.state == ReleaseState::Failed {
            let failure = row.failure.unwrap_or_else(|| "no reason recorded".into());
            return Err(DeployError::ReleaseFailed {
                id: target,
                failure,
            });
        }
    }
    reporter.step(
        "verify",
        &format!("checking `{target}` against its manifest"),
    );
    verify::require_clean(context, &target)?;

    let settings = context.settings_for(&target, config)?;
    let mut journal = Journal::begin(&context.site, op, &target, live.clone(), reason.clone())?;
    activate(context, &mut journal, &settings, SWITCH, reporter)?;
    record_success(context, &mut journal, reason)?;
    activate::journal_done(context, &mut journal)?;
    lock.release()?;
    Ok(RollbackReport {
        release: target,
        from: live,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}
