//! `hoist recover`: finish or undo an operation that was killed mid-way.
//!
//! The rule: if the interrupted operation had already switched `current`,
//! recovery finishes it (restart, health check, record); otherwise it
//! cleans up and the live release stays as it was.

use crate::activate::{self, activate, record_success};
use crate::deploy::{read_manifest, release_row};
use crate::tree::remove_tree;
use crate::{prune, Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, JournalRecord, Op, Step};
use serde::Serialize;

/// What recovery did.
#[derive(Debug, Clone, Serialize)]
pub struct RecoverReport {
    /// `nothing`, `finished` or `cleaned-up`.
    pub action: &'static str,
    /// The interrupted operation, if there was one.
    pub interrupted: Option<JournalRecord>,
    /// The release live after recovery.
    pub live: Option<String>,
    /// Leftover partial or half-deleted trees removed.
    pub removed: Vec<String>,
    /// A damaged ledger moved aside, and what was kept of it.
    pub ledger: Option<String>,
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
        });
    }
    crate::emergency::make_room(context, "recover", reporter);
    let lock = context.lock("recover", reporter)?;
    let removed = remove_leftovers(context);
    let ledger = repair_ledger(context, reporter)?;
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
            ledger,
        });
    };
    let live = context.site.live()?;
    let switched = live.as_deref() == Some(record.release.as_str()) && record.op != Op::Prune;
    let mut journal = Journal::resume(&context.site, record.clone());
    crate::data_tie::recover_data(context, &record, switched, reporter)?;
    let action = if matches!(record.op, Op::DataRoll | Op::DataRevert) {
        crate::data_roll::recover(context, &mut journal, reporter)?
    } else if record.step == Step::SwitchBack {
        let settings =
            context.settings_for(record.from.as_deref().unwrap_or(&record.release), config)?;
        let problem = "interrupted while switching back after a failed restart or health check";
        // switch_back records the failure; its error only restates what we report.
        let _ = activate::switch_back(context, &mut journal, &settings, problem, reporter);
        "finished"
    } else if switched {
        finish(context, &mut journal, &record, config, reporter)?;
        "finished"
    } else {
        clean_up(context, &mut journal, &record, reporter)?;
        "cleaned-up"
    };
    lock.release()?;
    context.site.keep_reserve();
    Ok(RecoverReport {
        action,
        interrupted: Some(record),
        live: context.site.live()?,
        removed,
        ledger,
    })
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

/// The switch happened: run the remaining steps, then prune as a deploy would.
fn finish(
    context: &Context,
    journal: &mut Journal,
    record: &JournalRecord,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let settings = context.settings_for(&record.release, config)?;
    if context.ledger.release(&record.release)?.is_none() {
        if let Some(manifest) = read_manifest(&context.site.release_dir(&record.release)) {
            let row = release_row(&manifest, None);
            context.record(&Write::Release { row }, reporter);
        }
    }
    let already_recorded = context.ledger.has_event(&record.op_id)?;
    if !already_recorded {
        let resume_at = match record.step {
            Step::Health => Step::Health,
            Step::Record | Step::Prune => Step::Record,
            _ => Step::Restart,
        };
        if resume_at != Step::Record {
            reporter.step(
                "recover",
                &format!(
                    "`{}` was switched in; finishing its restart and health check",
                    record.release
                ),
            );
            activate(context, journal, &settings, resume_at, reporter)?;
        }
        record_success(
            context,
            journal,
            Some(format!(
                "finished by `hoist recover` after stopping during `{}`",
                record.step
            )),
            reporter,
        )?;
    }
    if record.op == Op::Deploy {
        journal.step(Step::Prune)?;
        prune::prune_locked(context, settings.keep_releases, reporter)?;
    }
    activate::journal_done(context, journal)
}

/// The switch never happened: drop the half-made release and record it.
fn clean_up(
    context: &Context,
    journal: &mut Journal,
    record: &JournalRecord,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    remove_tree(&context.site.partial_dir(&record.release));
    let release_dir = context.site.release_dir(&record.release);
    // A release that reached `ready` is complete and verified; keep it, known to the ledger.
    if record.op == Op::Deploy && context.ledger.release(&record.release)?.is_none() {
        if let Some(manifest) = read_manifest(&release_dir) {
            let row = release_row(&manifest, None);
            context.record(&Write::Release { row }, reporter);
        }
    }
    if !context.ledger.has_event(&record.op_id)? {
        let detail = format!(
            "stopped during `{}`; `hoist recover` cleaned up, live release unchanged",
            record.step
        );
        let event = activate::event(
            record,
            Outcome::Interrupted,
            record.from.as_deref(),
            Some(detail),
        );
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
