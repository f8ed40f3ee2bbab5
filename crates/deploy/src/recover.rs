//! `hoist recover`: finish or undo an operation that was killed mid-way.
//!
//! What to do follows from the journaled step ([`Step::on_crash`]), matched
//! exhaustively below: a step added without saying how to recover from it
//! does not compile.
//! - Stage steps: undo. The half-made release goes; one that reached
//!   `ready` stays, complete and verified.
//! - Switch steps: undo unless `current` already names the target (the
//!   switch happened); then finish. Requests the operation held are
//!   released, a candidate it was starting is stopped.
//! - `migrate-down`: once the schema started going back, the only
//!   consistent end is the rollback it was for: finish it.
//! - After steps: resume from the step (restart, health check, the post
//!   hook, record, contract migrations, prune). A post hook killed with
//!   hoist runs again (the report's `hooks`, and the ledger's detail, say
//!   so), once what it left running is stopped ([`crate::recover_hook`]).
//!   A link walk killed mid-way (`walk`, external mode) runs again from its
//!   start: dead links switch back, recorded as a failed deploy; a clean
//!   walk finishes it. The deploy is never recorded ok on a walk that did
//!   not finish.
//! - `complete`, `expand` (a deploy's expand and contract, before its
//!   switch): the same call runs again and finishes what the database
//!   says it began; then the deploy is cleaned up, the live release kept
//!   (both shapes serve; deploying again joins or finishes the rest).
//! - `abort-expand` (`rollback --with-db` after its switch): the abort
//!   runs again, then the rollback is recorded. A deploy's `abort-expand`
//!   (its expand failed, before the switch): the removal runs again, then
//!   the deploy is cleaned up.
//! - `repair`: run again from the kept artifact.

use crate::activate::{self, activate};
use crate::recover_schema::SchemaUndo;
use crate::stage::{read_manifest, release_row};
use crate::switch::{self, Plan, Switched};
use crate::tree::remove_tree;
use crate::{Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, JournalRecord, OnCrash, Op, Step};
use serde::Serialize;

/// What recovery did.
#[derive(Debug, Clone, Serialize)]
pub struct RecoverReport {
    /// `nothing`, `finished`, `cleaned-up`, or `not-finished` (a `db
    /// complete`/`db abort` that failed again: `ledger` says why).
    pub action: &'static str,
    /// The interrupted operation, if there was one.
    pub interrupted: Option<JournalRecord>,
    /// The release live after recovery.
    pub live: Option<String>,
    /// Leftover partial or half-deleted trees removed.
    pub removed: Vec<String>,
    /// The ledger row this recovery wrote for the interrupted operation.
    pub ledger: Option<hoist_ledger::Event>,
    /// A damaged ledger moved aside, and what was kept of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_repaired: Option<String>,
    /// Processes of a hook killed with hoist, stopped before anything else.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<String>,
    /// The hooks recovery ran (a post hook killed with hoist runs again).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::HookRun>,
    /// Migrations an undone deploy had run before its switch, undone again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations_undone: Vec<String>,
    /// Migrations that could not be undone, and the command that does it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The expansion (or contract) a deploy killed before its switch
    /// began, finished: the live release stays, both shapes serve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expansion: Option<crate::ExpandReport>,
    /// The `db complete` or `db abort` it finished: what was dropped,
    /// renamed and rebased, as the command reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contracted: Option<crate::Contracted>,
}

/// Recovers the site in `context`: frees the space reserve if the disk is
/// full, moves a damaged ledger aside (keeping what can be read), removes
/// leftovers, then finishes or undoes the interrupted operation.
pub fn recover(
    context: &mut Context,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<RecoverReport, DeployError> {
    // The reserve is for work: a recover with nothing to do must not spend it.
    let has_work = Journal::pending(&context.site)?.is_some()
        || !context.site.leftovers()?.is_empty()
        || context.ledger_problem.is_some()
        || hoist_ledger::salvage::damage(&context.site.ledger_path()).is_some();
    if !has_work {
        // Nothing to finish, undo, remove or repair: nothing to lock or write
        // either (so it answers on a full disk too).
        return Ok(RecoverReport {
            action: "nothing",
            interrupted: None,
            live: context.site.live()?,
            removed: Vec::new(),
            ledger: None,
            ledger_repaired: None,
            stopped: Vec::new(),
            hooks: Vec::new(),
            migrations_undone: Vec::new(),
            warning: None,
            expansion: None,
            contracted: None,
        });
    }
    crate::emergency::make_room(context, "recover", reporter);
    let lock = context.lock("recover", reporter)?;
    let removed = remove_leftovers(context);
    let ledger_repaired = repair_ledger(context, reporter)?;
    let context = &*context;
    let Some(record) = Journal::pending(&context.site)? else {
        lock.release()?;
        context.site.keep_reserve();
        let live = context.site.live()?;
        return Ok(RecoverReport {
            action: "nothing",
            interrupted: None,
            live,
            removed,
            ledger: None,
            ledger_repaired,
            stopped: Vec::new(),
            hooks: Vec::new(),
            migrations_undone: Vec::new(),
            warning: None,
            expansion: None,
            contracted: None,
        });
    };
    // Before anything runs again: what a hook killed with hoist left.
    let stopped = crate::recover_hook::stop_left(&record, reporter);
    let mut journal = Journal::resume(&context.site, record.clone());
    let mut schema = SchemaUndo::default();
    let mut hooks = Vec::new();
    let action = resume(
        context,
        &mut journal,
        &record,
        config,
        reporter,
        (&mut schema, &mut hooks),
    )?;
    lock.release()?;
    context.site.keep_reserve();
    Ok(RecoverReport {
        action,
        ledger: crate::recover_hook::row_of(context, &record.op_id),
        interrupted: Some(record),
        live: context.site.live()?,
        removed,
        ledger_repaired,
        stopped,
        hooks,
        migrations_undone: schema.undone,
        warning: schema.left,
        expansion: schema.expanded,
        contracted: schema.contracted,
    })
}

/// Finishes or undoes the journaled operation; says which.
fn resume(
    context: &Context,
    journal: &mut Journal,
    record: &JournalRecord,
    config: Option<&Config>,
    reporter: &dyn Reporter,
    (schema, hooks): (&mut SchemaUndo, &mut Vec<crate::HookRun>),
) -> Result<&'static str, DeployError> {
    let switched = context.site.live()?.as_deref() == Some(record.release.as_str());
    // Once migrations were undone, the rollback they serve is finished.
    let finishing_undo = record.schema_changed && !switched;
    // A data move that rode with the code switch follows it: forward if it switched (or will), back if not.
    crate::data_tie::recover_data(context, record, switched || finishing_undo, reporter)?;
    if finishing_undo {
        undo_switch(context, record, reporter);
        crate::rollback::resume_undo(context, journal, config, reporter)?;
        return Ok("finished");
    }
    let mut undone = |journal: &mut Journal| {
        undo_switch(context, record, reporter);
        *schema = if matches!(
            record.step,
            Step::Complete | Step::Expand | Step::AbortExpand
        ) {
            // Both shapes serve once it is finished: nothing to undo.
            crate::recover_schema::finish_expansion(context, journal, config, reporter)
        } else {
            // The live release stays, so the schema goes back to what it knows.
            crate::recover_schema::undo_migrations(context, record, config, reporter)
        };
        clean_up(context, journal, record, schema, reporter).map(|()| "cleaned-up")
    };
    match record.op {
        // Removing old releases again is safe; the leftovers are gone already.
        Op::Prune => {
            return clean_up(context, journal, record, &SchemaUndo::default(), reporter)
                .map(|()| "cleaned-up")
        }
        // Both keep the live release; the interrupted one is recorded, and can be run again.
        Op::Abort | Op::Restart => return undone(journal),
        Op::DataRoll | Op::DataRevert => {
            return crate::data_roll::recover(context, journal, reporter)
        }
        Op::Repair => return crate::repair::recover(context, journal, config, reporter),
        Op::DbComplete | Op::DbAbort => {
            let (action, contracted) =
                crate::contract::recover(context, journal, record, config, reporter)?;
            schema.contracted = contracted;
            return Ok(action);
        }
        Op::Deploy | Op::Stage | Op::Hold | Op::Promote | Op::Rollback | Op::AutoRollback => {}
    }
    // A deploy whose expand failed was removing it again, before any switch.
    let removing = matches!(record.op, Op::Deploy | Op::Hold) && record.step == Step::AbortExpand;
    match record.step.on_crash() {
        _ if removing && !switched => return undone(journal),
        OnCrash::Undo => return undone(journal),
        OnCrash::UndoUnlessSwitched if !switched => return undone(journal),
        OnCrash::UndoUnlessSwitched | OnCrash::Resume => {}
    }
    match record.step {
        Step::SwitchBack => {
            let settings =
                context.settings_for(record.from.as_deref().unwrap_or(&record.release), config)?;
            let problem = "interrupted while switching back after a failed restart or health check";
            // switch_back records the failure; that error only restates what we report.
            match activate::switch_back(context, journal, &settings, problem, reporter) {
                Ok(())
                | Err(DeployError::SwitchedBack { .. } | DeployError::FirstDeployFailed { .. }) => {
                }
                Err(unhealthy @ DeployError::SwitchedBackUnhealthy { .. }) => {
                    reporter.warn(&unhealthy.to_string());
                }
                Err(other) => return Err(other),
            }
        }
        Step::MigrateDown => crate::rollback::resume_undo(context, journal, config, reporter)?,
        Step::Begin
        | Step::Copy
        | Step::Verify
        | Step::Space
        | Step::Unpack
        | Step::Shared
        | Step::Checks
        | Step::Test
        | Step::Ready
        | Step::PreSwitchHook
        | Step::Pause
        | Step::Complete
        | Step::Migrate
        | Step::Expand
        | Step::AbortExpand
        | Step::Data
        | Step::Hold
        | Step::Switch
        | Step::Restart
        | Step::Health
        | Step::Walk
        | Step::PostHook
        | Step::Record
        | Step::MigratePost
        | Step::Prune
        | Step::Repair
        | Step::Reload => {
            undo_switch(context, record, reporter);
            *hooks = finish(context, journal, record, config, reporter)?;
        }
    }
    Ok("finished")
}

/// What a killed switch phase may have left at the agent: requests it
/// held, a candidate it was starting.
fn undo_switch(context: &Context, record: &JournalRecord, reporter: &dyn Reporter) {
    let Some(agent) = &context.agent else {
        return;
    };
    if record.paused {
        if let Err(problem) = agent.resume() {
            reporter.warn(&format!("could not release the requests held for the interrupted {}: {problem}; they resume when the pause runs out", record.op));
        }
    }
    // A deploy reaches `hold` only to walk its candidate's links before the switch.
    let starting_candidate =
        matches!(record.op, Op::Hold | Op::Abort | Op::Deploy) && record.step == Step::Hold;
    if starting_candidate || record.op == Op::Abort {
        if let Err(problem) = agent.abort() {
            reporter.warn(&format!(
                "could not stop the candidate of the interrupted {}: {problem}; run `hoist abort`",
                record.op
            ));
        }
    }
}

/// Moves a damaged ledger aside and starts a new one with what could be
/// read of it, the releases on disk it lost, and the writes that waited.
fn repair_ledger(
    context: &mut Context,
    reporter: &dyn Reporter,
) -> Result<Option<String>, DeployError> {
    let path = context.site.ledger_path();
    let salvaged = hoist_ledger::salvage::salvage(&path)?;
    if salvaged.is_none() && context.ledger_problem.is_none() {
        return Ok(None);
    }
    context.ledger = hoist_ledger::Ledger::open(&path)?;
    context.ledger_problem = None;
    context.site.state_access().apply_to(&path)?;
    for id in context.site.release_ids()? {
        if context.ledger.release(&id)?.is_none() {
            if let Some(manifest) = read_manifest(&context.site.release_dir(&id)) {
                context.ledger.add_release(&release_row(&manifest, None))?;
            }
        }
    }
    let summary = salvaged.map(|salvaged| {
        format!(
            "the ledger was damaged ({}); moved it to `{}` and kept {} events and {} releases",
            salvaged.problem,
            salvaged.moved_to.display(),
            salvaged.events,
            salvaged.releases
        )
    });
    if let Some(summary) = &summary {
        reporter.warn(summary);
    }
    Ok(summary)
}

/// The switch happened: run the remaining steps from the journaled one;
/// returns the hooks that ran.
fn finish(
    context: &Context,
    journal: &mut Journal,
    record: &JournalRecord,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<Vec<crate::HookRun>, DeployError> {
    let settings = context.settings_for(&record.release, config)?;
    if context.ledger.release(&record.release)?.is_none() {
        if let Some(manifest) = read_manifest(&context.site.release_dir(&record.release)) {
            let row = release_row(&manifest, None);
            context.record(&Write::Release { row }, reporter);
        }
    }
    let recorded = context.ledger.has_event(&record.op_id)?;
    let resume_at = match record.step {
        _ if recorded => Step::MigratePost.max(record.step),
        step if step < Step::Restart => Step::Restart,
        step => step,
    };
    if resume_at < Step::PostHook {
        let what = match resume_at {
            Step::Walk => "walking its links again (the walk was cut short)",
            _ => "finishing its restart and health check",
        };
        reporter.step(
            "recover",
            &format!("`{}` was switched in; {what}", record.release),
        );
        activate(context, journal, &settings, resume_at, reporter)?;
    }
    let schema = || crate::deploy::schema_for(context, &record.release, config);
    let mut done = Switched::default();
    let mut plan = Plan {
        hooks: crate::hooks::of(context, &record.release, config)?,
        post: match record.op {
            Op::Deploy | Op::Promote => schema()?,
            _ => None,
        },
        prune: (record.op == Op::Deploy).then_some(settings.keep_releases),
        detail: Some(format!(
            "finished by `hoist recover` after stopping during `{}`",
            record.step
        )),
        ..Plan::switch(settings)
    };
    if record.step == Step::AbortExpand {
        // `rollback --with-db` was removing the expansion: it runs again.
        plan.abort_expansion = schema()?;
    }
    if resume_at <= Step::PostHook {
        crate::hooks::after_switch(context, journal, &plan, reporter, &mut done)?;
        let again = if record.step == Step::PostHook {
            " again"
        } else {
            ""
        };
        for ran in &done.hooks {
            let said = format!("; ran `{}`{again}", ran.hook);
            plan.detail = plan.detail.map(|detail| detail + &said);
        }
    }
    switch::after(
        context,
        journal,
        &plan,
        resume_at.max(Step::AbortExpand),
        reporter,
        &mut done,
    )?;
    Ok(done.hooks)
}

/// The switch never happened: drop the half-made release and record it.
fn clean_up(
    context: &Context,
    journal: &mut Journal,
    record: &JournalRecord,
    schema: &SchemaUndo,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    remove_tree(&context.site.partial_dir(&record.release));
    remove_tree(&crate::isolate::scratch_dir(context, &record.release));
    let release_dir = context.site.release_dir(&record.release);
    // A release that reached `ready` is complete and verified; keep it, known to the ledger.
    if record.op == Op::Deploy && context.ledger.release(&record.release)?.is_none() {
        if let Some(manifest) = read_manifest(&release_dir) {
            let row = release_row(&manifest, None);
            context.record(&Write::Release { row }, reporter);
        }
    }
    if !context.ledger.has_event(&record.op_id)? {
        let migrations = match (&schema.left, schema.undone.is_empty()) {
            (Some(left), _) => format!("; {left}"),
            (None, false) => format!(" and undid {}", schema.undone.join(", ")),
            (None, true) => String::new(),
        };
        // Say what it did: finishing an expansion is no clean-up.
        let detail = match &schema.expanded {
            Some(report) => format!(
                "stopped during `{}`; `hoist recover` {}, live release unchanged",
                record.step,
                report.recovered(&record.release)
            ),
            None => format!(
                "stopped during `{}`; `hoist recover` cleaned up{migrations}, live release unchanged",
                record.step
            ),
        };
        let event = hoist_ledger::Event {
            migrations: schema.undone.clone(),
            ..activate::event(record, Outcome::Interrupted, Some(detail))
        };
        context.record(&Write::Event { event }, reporter);
    }
    activate::journal_done(context, journal)
}

/// Removes `*.partial` and `*.deleting` trees and stray temp links.
fn remove_leftovers(context: &Context) -> Vec<String> {
    let mut removed = Vec::new();
    for path in context.site.leftovers().unwrap_or_default() {
        remove_tree(&path);
        removed.push(
            path.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
    }
    if let Ok(items) = std::fs::read_dir(context.site.root()) {
        for item in items.flatten() {
            if item
                .file_name()
                .to_string_lossy()
                .starts_with(".current.tmp-")
            {
                let _ = std::fs::remove_file(item.path());
            }
        }
    }
    removed
}
