//! `hoist data roll` and `hoist data revert` as one journaled operation
//! under the site lock, recorded in the ledger like a deploy.
//!
//! ```text
//! lock ─ begin ─▶ Data: data/current -> V ─▶ Reload: tell the agent ─▶ PostHook ─▶ record, unlock
//!                   │                           │
//!  killed here: recover sees whether the pointer moved; if it did, it
//!  tells the agent (with no agent, nothing more) and records the roll,
//!  else it records the roll as interrupted
//! ```
//!
//! The live release's `[hooks] post_data_roll` runs once the app took
//! the data, with `HOIST_FROM`/`HOIST_TO` naming the data versions; a
//! failure is reported and recorded, the roll stands (`hoist data revert`
//! is the way back). A hook killed with hoist runs again in `recover`.
//!
//! Telling the agent is a step, not an afterthought: a CLI that dies
//! between moving the pointer and telling the agent leaves a journal that
//! `hoist status` shows and `hoist recover` finishes. When the app does
//! not take the reload, the agent puts the pointer back and the roll is
//! recorded as failed; the code never moves (`hoist_agent`'s data reload).
//!
//! Locks: the site lock first, then the data lock (`data/data.lock`, which
//! `load`, `pull` and `prune` take alone). Both fail at once when held, so
//! they never deadlock.

use crate::activate::{self, journal_done};
use crate::attempt::Attempt;
use crate::{Context, DeployError, Reporter};
use hoist_data::{DataStore, RollReport};
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, Op, Step};
use serde::Serialize;

/// A data roll or revert.
#[derive(Debug, Clone)]
pub struct DataRollRequest {
    /// [`Op::DataRoll`] or [`Op::DataRevert`].
    pub op: Op,
    /// The version (id, unique id prefix, or label); by default the newest
    /// loaded (roll) or the one live before (revert).
    pub version: Option<String>,
    /// Why, for the ledger.
    pub reason: Option<String>,
    /// Roll even onto data the live release's `[data] requires` refuses.
    pub force: bool,
}

/// What a data roll or revert did.
#[derive(Debug, Clone, Serialize)]
pub struct DataRollReport {
    /// The pointer move.
    #[serde(flatten)]
    pub roll: RollReport,
    /// How the app was told: `signal HUP to 2 process(es)`, `restarted`, or `no agent: ...`.
    pub reload: String,
    /// The live release's `post_data_roll` hook, if it has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::HookRun>,
}

/// Moves `data/current` as `request` says and tells the agent, journaled.
/// A roll refused before its journal (nothing to roll to, data the live
/// release refuses, a lock held) is recorded as `refused`.
pub fn data_roll(
    context: &Context,
    request: &DataRollRequest,
    reporter: &dyn Reporter,
) -> Result<DataRollReport, DeployError> {
    let (op, reason) = (request.op, request.reason.clone());
    let mut attempt = Attempt::new(context, op, request.version.clone(), reason);
    attempt.started_from(live_data(context).ok().flatten().as_deref());
    let result = roll(context, request, reporter, &mut attempt);
    attempt.settle(context, result, reporter)
}

fn roll(
    context: &Context,
    request: &DataRollRequest,
    reporter: &dyn Reporter,
    attempt: &mut Attempt,
) -> Result<DataRollReport, DeployError> {
    context.refuse_if_pending()?;
    let store = DataStore::open(&context.site, &context.ledger)?;
    let version = request.version.as_deref();
    let target = match request.op {
        Op::DataRevert => store.revert_target(version)?,
        _ => store.roll_target(version)?,
    };
    attempt.aimed_at(&target);
    let lock = context.lock(&format!("{} {target}", request.op), reporter)?;
    context.refuse_if_pending()?;
    // Code and data stay tied both ways: no data under the live release it refuses.
    if let (Some(live), false) = (context.site.live()?, request.force) {
        crate::data_tie::refuse_for_live(context, &live, &target, reporter)?;
    }
    let data_lock = store.lock()?;
    let from = store.live()?;
    attempt.started_from(from.as_deref());
    let mut journal = Journal::begin(
        &context.site,
        request.op,
        &target,
        from,
        request.reason.clone(),
    )?;
    attempt.journaled();
    journal.step(Step::Data)?;
    reporter.step("data", &format!("data/current -> versions/{target}"));
    let roll = match store.point(&data_lock, &target) {
        Ok(roll) => roll,
        Err(error) => {
            let error = DeployError::from(error);
            end(
                context,
                &mut journal,
                Outcome::Failed,
                &error.to_string(),
                reporter,
            )?;
            return Err(error);
        }
    };
    journal.step(Step::Reload)?;
    let (reload, hooks) = reload(context, &mut journal, reporter)?;
    drop(data_lock);
    lock.release()?;
    Ok(DataRollReport {
        roll,
        reload,
        hooks,
    })
}

/// Step `reload`: tells the agent (if one runs), records the outcome and
/// ends the journal. An agent that cannot be told leaves the journal for
/// `hoist recover`.
fn reload(
    context: &Context,
    journal: &mut Journal,
    reporter: &dyn Reporter,
) -> Result<(String, Vec<crate::HookRun>), DeployError> {
    let record = journal.record().clone();
    let Some(agent) = &context.agent else {
        let how = "no agent: apps reading through `data/current` see it on their next open";
        return took(context, journal, how.to_owned(), reporter);
    };
    reporter.step("reload", "telling the agent");
    let problem = match agent.data_rolled(&record.release, record.from.as_deref()) {
        Ok(how) => return took(context, journal, how, reporter),
        Err(problem) => problem,
    };
    let live = live_data(context)?;
    let put_back = live.as_deref() != Some(record.release.as_str());
    let refresh = record.from.as_deref() == Some(record.release.as_str());
    if !put_back && !refresh {
        // The pointer moved and the agent never took it: recover tells it.
        return Err(DeployError::DataNotTold {
            version: record.release,
            problem,
        });
    }
    end(context, journal, Outcome::Failed, &problem, reporter)?;
    Err(DeployError::DataReloadFailed {
        version: record.release,
        restored: live,
        problem,
    })
}

/// Finishes a data roll or revert that `hoist recover` found interrupted:
/// if `data/current` names its target the pointer moved, and the agent is
/// told now; else nothing changed, and it is recorded as interrupted.
/// Returns `finished` or `cleaned-up`.
pub(crate) fn recover(
    context: &Context,
    journal: &mut Journal,
    reporter: &dyn Reporter,
) -> Result<&'static str, DeployError> {
    let record = journal.record().clone();
    if context.ledger.has_event(&record.op_id)? {
        // Recorded, then killed before the journal went: nothing is left to do.
        journal_done(context, journal)?;
        return Ok("finished");
    }
    if live_data(context)?.as_deref() != Some(record.release.as_str()) {
        let detail = format!(
            "stopped during `{}`; `hoist recover` cleaned up, live data unchanged",
            record.step
        );
        end(context, journal, Outcome::Interrupted, &detail, reporter)?;
        return Ok("cleaned-up");
    }
    reporter.step(
        "recover",
        &format!(
            "`data/current` names `{}`; telling the agent",
            record.release
        ),
    );
    journal.step(Step::Reload)?;
    match reload(context, journal, reporter) {
        Ok(_) => Ok("finished"),
        // The agent put the data back: the roll failed, the site is consistent.
        Err(DeployError::DataReloadFailed { problem, .. }) => {
            reporter.warn(&problem);
            Ok("cleaned-up")
        }
        Err(error) => Err(error),
    }
}

/// The app took the data (`how`): the live release's `post_data_roll`
/// hook, then the record, with a failed hook in its detail.
fn took(
    context: &Context,
    journal: &mut Journal,
    how: String,
    reporter: &dyn Reporter,
) -> Result<(String, Vec<crate::HookRun>), DeployError> {
    let record = journal.record().clone();
    let mut hooks = Vec::new();
    if let Some(live) = context.site.live()? {
        let own = crate::hooks::of(context, &live, None)?;
        let span = (record.from.as_deref(), Some(record.release.as_str()));
        let ran = crate::hooks::post(context, journal, &own, &live, span, reporter)?;
        hooks.extend(ran.map(|(ran, _)| ran));
    }
    let detail = crate::hooks::with_failures(Some(how.clone()), &hooks).unwrap_or_default();
    end(context, journal, Outcome::Ok, &detail, reporter)?;
    Ok((how, hooks))
}

/// Records how the operation ended and removes its journal.
fn end(
    context: &Context,
    journal: &mut Journal,
    outcome: Outcome,
    detail: &str,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let event = activate::event(journal.record(), outcome, Some(detail.to_owned()));
    context.record(&Write::Event { event }, reporter);
    journal_done(context, journal)
}

/// The version `data/current` names.
pub(crate) fn live_data(context: &Context) -> Result<Option<String>, DeployError> {
    let data_dir = context.site.data_dir();
    if !data_dir.is_dir() {
        return Ok(None);
    }
    Ok(hoist_data::Catalog::open_existing(&data_dir)?.live()?)
}
