//! Code tied to data, the way WormBase ties every release to a database
//! version.
//!
//! - A release may say which data it needs, in its own `hoist.toml`:
//!   `[data] requires` (a label, or a prefix of a version id) or
//!   `requires_check` (a command run with `$HOIST_DATA` naming the live
//!   version). A switch onto other data is refused before anything moves
//!   ([`refuse_unsatisfied`]), naming the `hoist data roll` that fixes it.
//! - Every switch notes in the ledger the data version live with it
//!   ([`note_switch`]). A release is tied to the data it was deployed (or
//!   promoted) with: `hoist rollback` names it, and `--with-data` moves
//!   `data/current` back to it in the same journaled operation:
//!
//! ```text
//! rollback --with-data:  Data: data/current -> D(target) ─▶ Switch: code -> target
//!                        ─▶ Record ─▶ Reload: tell the agent
//! a failed switch puts data/current back; `hoist recover` finishes or
//! puts back the data move with the code (recover_data)
//! ```
//!
//! The data moves before the code so the older release starts on its own
//! data, never on data newer than it.

use crate::activate::{self, journal_done};
use crate::data_roll::live_data;
use crate::{command, Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_data::DataStore;
use hoist_ledger::{Outcome, Write};
use hoist_site::{DataMove, Journal, JournalRecord, Step};
use serde::Serialize;

/// What a rollback does about data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RollbackData {
    /// The data version live when the target release was last deployed
    /// (or promoted), as the ledger recorded it (`None`: not known).
    pub with_target: Option<String>,
    /// The data version live before the rollback.
    pub live: Option<String>,
    /// True when `--with-data` moved `data/current` to `with_target`.
    pub reverted: bool,
}

/// Refuses to switch to `release` while the live data does not satisfy
/// its `[data] requires` or `requires_check` (read from `config`, else
/// the release's own `hoist.toml`).
pub(crate) fn refuse_unsatisfied(
    context: &Context,
    release: &str,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let live = live_data(context)?;
    check(context, release, config, live.as_deref(), None, reporter)
}

/// Refuses to move the data under the live release `live` to `target`
/// when `live`'s `[data]` refuses it; the way out is to move code and data
/// together (`hoist deploy --with-data`), or `--force`.
pub(crate) fn refuse_for_live(
    context: &Context,
    live: &str,
    target: &str,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    check(context, live, None, Some(target), None, reporter).map_err(|error| match error {
        DeployError::DataUnsatisfied { release, requires, live, .. } => DeployError::DataUnsatisfied {
            fix: format!(
                "Deploy a release that accepts `{target}` together with it (`hoist deploy ARTIFACT --with-data {target}`), or roll anyway with `--force`"
            ),
            release,
            requires,
            live,
        },
        other => other,
    })
}

/// What `deploy --with-data VERSION` does about data: `data/current` moves
/// to `version` in the switch, before the code, after `release`'s
/// requirement was checked against it.
pub(crate) fn plan_deploy(
    context: &Context,
    release: &str,
    config: Option<&Config>,
    version: &str,
    reporter: &dyn Reporter,
) -> Result<RollbackData, DeployError> {
    let store = DataStore::open(&context.site, &context.ledger)?;
    let target = store.roll_target(Some(version))?;
    check(context, release, config, Some(&target), None, reporter)?;
    let live = live_data(context)?;
    Ok(RollbackData {
        reverted: live.as_deref() != Some(target.as_str()),
        with_target: Some(target),
        live,
    })
}

/// Checks `release`'s requirement against `data` (the version that will
/// be live). `tied` is the version the release went live with, which a
/// `--with-data` rollback would bring back: the way out when it fits.
fn check(
    context: &Context,
    release: &str,
    config: Option<&Config>,
    data: Option<&str>,
    tied: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let Some(config) = context.config_for(release, config)? else {
        return Ok(());
    };
    let tie = &config.data;
    let refuse = |requires: String, fix: String| DeployError::DataUnsatisfied {
        release: release.to_owned(),
        requires,
        live: data.map(str::to_owned),
        fix,
    };
    if let Some(requires) = &tie.requires {
        let store = DataStore::open(&context.site, &context.ledger)?;
        let satisfied = match data {
            Some(id) => store.satisfies(id, requires)?,
            None => false,
        };
        if !satisfied {
            let tied = match tied {
                Some(tied) if store.satisfies(tied, requires)? => Some(tied),
                _ => None,
            };
            let fix = match tied {
                Some(tied) => format!("Add `--with-data` to go back to `{tied}` with it"),
                None => match store.newest_satisfying(requires)? {
                    Some(id) => format!("Make it live first with `hoist data roll {id}`"),
                    None => format!(
                        "Load it with `hoist data load SRC --label {requires}`, then `hoist data roll {requires}`"
                    ),
                },
            };
            return Err(refuse(format!("data `{requires}`"), fix));
        }
        reporter.step(
            "data",
            &format!("`{release}` requires data `{requires}`: ok"),
        );
    }
    if let Some(check) = &tie.requires_check {
        reporter.step("data", &format!("`{release}` checks the data: {check}"));
        let dir = context.site.release_dir(release);
        let version_dir = data.map(|id| context.site.data_dir().join("versions").join(id));
        let data_env = version_dir
            .as_ref()
            .map_or_else(String::new, |dir| dir.to_string_lossy().into_owned());
        let root = context.site.root().to_string_lossy().into_owned();
        let release_dir = dir.to_string_lossy().into_owned();
        let env = [
            ("HOIST_RELEASE", release),
            ("HOIST_ROOT", root.as_str()),
            ("HOIST_RELEASE_DIR", release_dir.as_str()),
            ("HOIST_DATA", data_env.as_str()),
            ("HOIST_DATA_VERSION", data.unwrap_or("")),
        ];
        let finished = command::run(check, &dir, &env)?;
        if !finished.success {
            let requires = format!(
                "its data check `{check}` to pass (it failed: {}){}",
                finished.status,
                match finished.tail().trim() {
                    "" => String::new(),
                    tail => format!("\n{tail}\n"),
                }
            );
            let fix = "Roll to data it accepts with `hoist data roll VERSION` (`hoist data list` shows them)";
            return Err(refuse(requires, fix.to_owned()));
        }
    }
    Ok(())
}

/// After a switch is recorded: notes the data version live with it, so a
/// later rollback can name it. Never fails the switch it notes.
pub(crate) fn note_switch(context: &Context, record: &JournalRecord, reporter: &dyn Reporter) {
    let live = match live_data(context) {
        Ok(Some(live)) => live,
        Ok(None) => return,
        Err(error) => {
            reporter.warn(&format!("cannot read the live data version: {error}"));
            return;
        }
    };
    // A switch whose record waits in the pending file is not in the
    // ledger yet: the history answers for it then (Ledger::data_with).
    if let Err(error) = context.ledger.note_data_version(&record.op_id, &live) {
        reporter.warn(&format!(
            "the data version live with this switch was not noted: {error}"
        ));
    }
}

/// Before a rollback (or promote) to `target`: names the data version it
/// went live with, and refuses when the data that will be live does not
/// satisfy it. With `with_data` that is the recorded version.
pub(crate) fn plan_rollback(
    context: &Context,
    target: &str,
    with_data: bool,
    reporter: &dyn Reporter,
) -> Result<RollbackData, DeployError> {
    let live = live_data(context)?;
    let with_target = context.ledger.data_with(target).unwrap_or_else(|error| {
        reporter.warn(&format!(
            "cannot read which data `{target}` ran on ({error}); not naming it"
        ));
        None
    });
    if with_data {
        let Some(version) = &with_target else {
            return Err(DeployError::NoDataRecorded {
                release: target.to_owned(),
            });
        };
        // Pruned since? Then it cannot go live again.
        DataStore::open(&context.site, &context.ledger)?.resolve(version)?;
    }
    let (after, tied) = match with_data {
        true => (&with_target, None),
        false => (&live, with_target.as_deref()),
    };
    // The target's own hoist.toml says what it needs, not the caller's.
    check(context, target, None, after.as_deref(), tied, reporter)?;
    let reverted = with_data && with_target != live;
    if let (false, Some(old), Some(now)) = (with_data, &with_target, &live) {
        if old != now {
            reporter.warn(&format!(
                "`{target}` went live on data `{old}`; `{now}` stays live (`--with-data` goes back to `{old}` too)"
            ));
        }
    }
    Ok(RollbackData {
        with_target,
        live,
        reverted,
    })
}

/// Step `data` of a `rollback --with-data`: notes the move in the journal,
/// then moves `data/current`. On error the journal ends and the failure
/// is recorded; nothing moved.
pub(crate) fn move_data(
    context: &Context,
    journal: &mut Journal,
    plan: &RollbackData,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let (true, Some(to)) = (plan.reverted, &plan.with_target) else {
        return Ok(());
    };
    let moved = (|| -> Result<(), DeployError> {
        journal.set_data(DataMove {
            from: plan.live.clone(),
            to: to.clone(),
        })?;
        journal.step(Step::Data)?;
        reporter.step("data", &format!("data/current -> versions/{to}"));
        let store = DataStore::open(&context.site, &context.ledger)?;
        let lock = store.lock()?;
        store.point(&lock, to)?;
        Ok(())
    })();
    if let Err(error) = &moved {
        let record = journal.record();
        let event = activate::event(
            record,
            Outcome::Failed,
            Some(format!("the data could not go back to `{to}`: {error}")),
        );
        context.record(&Write::Event { event }, reporter);
        journal_done(context, journal)?;
    }
    moved
}

/// The code switch after [`move_data`] failed (its journal already
/// ended): puts `data/current` back, then hands on the switch's error.
pub(crate) fn undo_data(
    context: &Context,
    plan: &RollbackData,
    error: DeployError,
    reporter: &dyn Reporter,
) -> DeployError {
    if plan.reverted {
        if let Err(problem) = put_back(context, plan.live.as_deref()) {
            reporter.warn(&format!(
                "the code did not switch, and `data/current` could not be put back on `{}`: {problem}; run `hoist data roll {0}`",
                plan.live.as_deref().unwrap_or("nothing")
            ));
        }
    }
    error
}

/// Step `reload` of a `rollback --with-data`, after the code switch:
/// tells the agent the data moved. When the app does not take it, the
/// agent has put the data back; the rollback of the code stands.
pub(crate) fn reload_data(
    context: &Context,
    journal: &mut Journal,
    plan: &RollbackData,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let (true, Some(to), Some(agent)) = (plan.reverted, &plan.with_target, &context.agent) else {
        return Ok(());
    };
    journal.step(Step::Reload)?;
    match agent.data_rolled(to, plan.live.as_deref()) {
        Ok(how) => {
            reporter.step("reload", &how);
            Ok(())
        }
        Err(problem) => {
            journal_done(context, journal)?;
            Err(DeployError::DataReloadFailed {
                version: to.clone(),
                restored: live_data(context)?,
                problem,
            })
        }
    }
}

/// For `hoist recover`, before it finishes or undoes a code switch that
/// carried a data move (`rollback --with-data`): if the code switched,
/// `data/current` goes to (stays on) the move's target and the agent is
/// told; if not, `data/current` goes back. Idempotent, and run while the
/// journal is still there, so a crash in it is recovered again.
pub(crate) fn recover_data(
    context: &Context,
    record: &JournalRecord,
    switched: bool,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let Some(data) = &record.data else {
        return Ok(());
    };
    let forward = switched && record.step != Step::SwitchBack;
    let wanted = if forward {
        Some(data.to.as_str())
    } else {
        data.from.as_deref()
    };
    if live_data(context)?.as_deref() != wanted {
        reporter.step(
            "recover",
            &format!(
                "data/current -> {}",
                wanted.map_or("nothing".to_owned(), |id| format!("versions/{id}"))
            ),
        );
        put_back(context, wanted)?;
    }
    if let (true, Some(agent)) = (forward, &context.agent) {
        if let Err(problem) = agent.data_rolled(&data.to, data.from.as_deref()) {
            reporter.warn(&problem);
        }
    }
    Ok(())
}

fn put_back(context: &Context, version: Option<&str>) -> Result<(), DeployError> {
    let store = DataStore::open(&context.site, &context.ledger)?;
    let _lock = store.lock()?;
    Ok(store.catalog().put_back(version)?)
}
