//! `hoist prune`: remove old releases, never the ones a rollback may need.

use crate::status::previous_release;
use crate::tree::remove_tree;
use crate::{Context, DeployError, Reporter};
use hoist_ledger::{Outcome, ReleaseState};
use hoist_site::{durable, Journal};
use serde::Serialize;
use std::collections::HashSet;

/// What a prune did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    /// Releases removed.
    pub removed: Vec<String>,
    /// Releases kept.
    pub kept: Vec<String>,
    /// Paths that could not be removed (not fatal).
    pub problems: Vec<String>,
}

/// `hoist prune --keep N`, as its own locked, journaled operation.
pub fn prune(
    context: &Context,
    keep: usize,
    reporter: &dyn Reporter,
) -> Result<PruneReport, DeployError> {
    context.refuse_if_pending()?;
    let lock = context.lock("prune", reporter)?;
    context.refuse_if_pending()?;
    let live = context.site.live()?;
    let mut journal = Journal::begin(
        &context.site,
        hoist_site::Op::Prune,
        live.as_deref().unwrap_or("-"),
        live.clone(),
        None,
    )?;
    journal.step(hoist_site::Step::Prune)?;
    let report = prune_locked(context, keep, reporter)?;
    let detail =
        (!report.removed.is_empty()).then(|| format!("removed {}", report.removed.join(", ")));
    let event = crate::activate::event(journal.record(), Outcome::Ok, detail);
    context.ledger.record(&event)?;
    journal.finish()?;
    lock.release()?;
    Ok(report)
}

/// The releases prune must never remove: live, previous, last known-good.
pub(crate) fn protected(context: &Context) -> Result<HashSet<String>, DeployError> {
    let live = context.site.live()?;
    let mut keep: HashSet<String> = live.iter().cloned().collect();
    if let Some(previous) = previous_release(context, live.as_deref())? {
        keep.insert(previous);
    }
    let on_disk: HashSet<String> = context.site.release_ids()?.into_iter().collect();
    let last_good = context
        .ledger
        .releases()?
        .into_iter()
        .filter(|row| {
            row.state == ReleaseState::Good
                && Some(&row.id) != live.as_ref()
                && on_disk.contains(&row.id)
        })
        .max_by_key(|row| row.deployed_at);
    keep.extend(last_good.map(|row| row.id));
    Ok(keep)
}

/// Removes releases beyond the newest `keep` (failed ones do not count and
/// go first); the caller holds the lock and has journaled the step.
pub(crate) fn prune_locked(
    context: &Context,
    keep: usize,
    reporter: &dyn Reporter,
) -> Result<PruneReport, DeployError> {
    let protected = protected(context)?;
    let failed: HashSet<String> = context
        .ledger
        .releases()?
        .into_iter()
        .filter(|row| row.state == ReleaseState::Failed)
        .map(|row| row.id)
        .collect();
    let mut report = PruneReport::default();
    let mut counted = protected.len();
    // Newest first: the newest healthy releases fill the quota.
    for id in context.site.release_ids()?.into_iter().rev() {
        if protected.contains(&id) {
            report.kept.push(id);
        } else if !failed.contains(&id) && counted < keep {
            counted += 1;
            report.kept.push(id);
        } else {
            reporter.step("prune", &format!("removing `{id}`"));
            let problems = remove_release(context, &id)?;
            for problem in &problems {
                reporter.warn(problem);
            }
            report.problems.extend(problems);
            report.removed.push(id);
        }
    }
    report.kept.reverse();
    Ok(report)
}

/// Renames the release aside (atomic, so it is never half-visible under its
/// id), forgets it, then deletes the files, the artifact kept for it and
/// its parity record and database schema; undeletable files are reported.
fn remove_release(context: &Context, id: &str) -> Result<Vec<String>, DeployError> {
    let deleting = context.site.deleting_dir(id);
    durable::rename(&context.site.release_dir(id), &deleting)?;
    context.ledger.remove_release(id)?;
    let mut problems = remove_tree(&deleting);
    if let Err(problem) = durable::remove_file(&context.site.kept_artifact(id)) {
        problems.push(problem.to_string());
    }
    if let Err(problem) = durable::remove_file(&hoist_parity::record_path(context.site.root(), id))
    {
        problems.push(problem.to_string());
    }
    if let Err(problem) = hoist_site::forget_db_schema(&context.site, id) {
        problems.push(problem.to_string());
    }
    Ok(problems)
}
