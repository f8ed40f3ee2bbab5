//! The switch phase: everything that changes what users get, always in
//! this order, each step journaled before it runs.
//!
//! ```text
//!  Step::PreSwitchHook  deploy, promote: `[hooks] pre_switch`; failing aborts here
//!  Step::Pause        agent: hold new requests, wait for those in flight   (if planned)
//!  Step::Complete     contract the open expansion before a new one, no old side serving (if planned)
//!  Step::Migrate      the target's `phase = pre` migrations (expand)   ┐ one of,
//!  Step::MigrateDown  the downs of migrations the target predates     ┘ if planned
//!  Step::Expand       PostgreSQL: expand the target's declarative migration (or join the
//!                     open expansion's new side); then `state/db-schema/<target>` says
//!                     which schema its processes use (if planned, see [`crate::expansion`])
//!  Step::Data         `data/current` to the version the target went live with (if planned)
//!  Step::Hold         agent: start the target beside the live release, stop here
//!  Step::Hold         deploy with `[deploy.smoke] crawl`, agent: start the target as a
//!                     held candidate and walk its links (dead links: stop it, fail)
//!  Step::Switch       agent: start, health-check, write `current`, move the route
//!                     external: write `current`, then Step::Restart, Step::Health,
//!                     Step::Walk (the link walk of `[deploy.smoke]`; dead links switch back)
//!                     (a failure there: Step::SwitchBack)
//!                     resume the held requests
//!  Step::PostHook     `post_switch` or `post_rollback`; a failed `required` post_switch:
//!                     Step::SwitchBack
//!  Step::AbortExpand  `rollback --with-db` before contract: stop the newer release's warm
//!                     processes, then remove the open expansion (no downs run)
//!  Step::Record       the ledger: who, what, from where, on which data
//!  Step::Reload       agent: the app reloads the data moved with the code (if planned)
//!  Step::MigratePost  once the old release drained: `phase = post` (contract)
//!  Step::Prune        old releases beyond `keep_releases`
//! ```
//!
//! The schema is right before the route moves and requests resume, so with
//! a pause no request ever meets code and schema that disagree. Every
//! operation that changes the live release is a [`Plan`] run here: deploy
//! and hold after their stage phase, promote, rollback (with or without
//! the database), the agent's own rollback, and `hoist recover`, which
//! resumes a plan at the step the journal names.

use crate::activate::{self, activate, record_success};
use crate::schema::{self, Schema};
use crate::{prune, Context, DeployError, Reporter};
use hoist_config::Deploy;
use hoist_db::{Phase, Undo};
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, Step};
use std::path::PathBuf;
use std::time::Duration;

/// What happens to the schema before the route moves.
#[derive(Debug)]
pub(crate) enum SchemaChange {
    /// Nothing.
    Keep,
    /// The target's `phase = pre` migrations.
    Expand(Schema),
    /// Undo `versions` (named `names`), with the newer release's migrations,
    /// which hold the downs.
    Undo {
        newer: Schema,
        versions: Vec<u64>,
        names: Vec<String>,
    },
}

/// How a switch goes.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Hold requests from before the schema changes until the route moved.
    pub(crate) pause: Option<Duration>,
    pub(crate) schema: SchemaChange,
    /// Start the target beside the live release instead of switching.
    pub(crate) hold: bool,
    /// After the switch: these `phase = post` migrations, once the old release drained.
    pub(crate) post: Option<Schema>,
    /// Prune down to this many releases afterwards.
    pub(crate) prune: Option<usize>,
    /// Restart command, health check (external mode).
    pub(crate) settings: Deploy,
    /// What the ledger says about it.
    pub(crate) detail: Option<String>,
    /// The data version that moves with the code (`rollback --with-data`).
    pub(crate) data: Option<crate::RollbackData>,
    /// The target's `[hooks]`.
    pub(crate) hooks: hoist_config::Hooks,
    /// The deployment notes the ledger keeps with the switch (`hoist notes`).
    pub(crate) notes: Option<String>,
    /// PostgreSQL expand and contract: what the target needs, after the
    /// classic `pre` migrations (`None`: no `[database]`, or not PostgreSQL).
    pub(crate) expansion: Option<crate::expansion::Expansion>,
    /// `rollback --with-db` before contract: once the route is back,
    /// remove the open expansion (with this database).
    pub(crate) abort_expansion: Option<Schema>,
}

impl Plan {
    /// A plain switch with `settings`: no pause, no schema change, no prune.
    pub(crate) fn switch(settings: Deploy) -> Plan {
        Plan {
            pause: None,
            schema: SchemaChange::Keep,
            hold: false,
            post: None,
            prune: None,
            settings,
            detail: None,
            data: None,
            hooks: hoist_config::Hooks::default(),
            notes: None,
            expansion: None,
            abort_expansion: None,
        }
    }
}

/// What a switch did.
#[derive(Debug, Default)]
pub(crate) struct Switched {
    /// Migrations run, pre-switch then post-switch.
    pub(crate) migrations: Vec<String>,
    /// Migrations undone.
    pub(crate) undone: Vec<String>,
    /// The backup taken before undoing them.
    pub(crate) backup: Option<PathBuf>,
    /// Releases pruned.
    pub(crate) pruned: Vec<String>,
    /// The agent's summary of a held candidate.
    pub(crate) held: Option<String>,
    /// The hooks that ran.
    pub(crate) hooks: Vec<crate::HookRun>,
    /// What expand and contract did before the switch.
    pub(crate) expanded: Option<crate::expansion::ExpandReport>,
    /// The expansion `rollback --with-db` removed after the switch.
    pub(crate) aborted: Option<hoist_db::expand::Finished>,
}

/// Runs `plan` for the journal's operation, from its first step; the
/// journal is finished (removed) whatever the outcome.
pub(crate) fn run(
    context: &Context,
    journal: &mut Journal,
    plan: &Plan,
    reporter: &dyn Reporter,
) -> Result<Switched, DeployError> {
    let mut done = Switched::default();
    if journal.record().op.is_forward() && !plan.hold {
        done.hooks.extend(crate::hooks::pre_switch(
            context,
            journal,
            &plan.hooks,
            reporter,
        )?);
    }
    if let Some(max) = plan.pause {
        pause(context, journal, max, reporter)?;
    }
    if let Err(error) = change_schema(context, journal, plan, reporter, &mut done) {
        resume(context, journal, reporter);
        return Err(error);
    }
    if plan.hold {
        done.held = Some(hold(context, journal, &plan.notes, reporter)?);
        return Ok(done);
    }
    if let Some(data) = &plan.data {
        if let Err(error) = crate::data_tie::move_data(context, journal, data, reporter) {
            resume(context, journal, reporter);
            return Err(error);
        }
    }
    let activated = activate(context, journal, &plan.settings, Step::Switch, reporter);
    resume(context, journal, reporter);
    // Once requests flow again: the hook sees the release as users do.
    let activated = activated
        .and_then(|()| crate::hooks::after_switch(context, journal, plan, reporter, &mut done));
    if let Err(error) = activated {
        let error = match &plan.data {
            Some(data) => crate::data_tie::undo_data(context, data, error, reporter),
            None => error,
        };
        if done.undone.is_empty() {
            schema_stays(journal, plan, &done, reporter);
            return Err(expansion_kept(error, &done));
        }
        // The downs ran and cannot be taken back here: say so, and how out.
        return Err(DeployError::UndoneButNotSwitched {
            problem: error.to_string(),
            undone: done.undone.clone(),
            backup: done.backup.clone(),
        });
    }
    after(
        context,
        journal,
        plan,
        Step::AbortExpand,
        reporter,
        &mut done,
    )?;
    Ok(done)
}

/// After a failed switch: the `pre` migrations that ran stay applied (the
/// code that stays live was meant to tolerate them, and the new code may
/// already have written to them), which the operator is told, with the
/// command that undoes them.
fn schema_stays(journal: &Journal, plan: &Plan, done: &Switched, reporter: &dyn Reporter) {
    let SchemaChange::Expand(schema) = &plan.schema else {
        return;
    };
    if done.migrations.is_empty() {
        return;
    }
    let keep = journal
        .record()
        .migrating
        .iter()
        .min()
        .map_or(0, |version| version.saturating_sub(1));
    reporter.warn(&format!(
        "the migrations this {} ran before its switch stay applied ({}); the live release runs on them. `hoist db rollback --to {keep} --migrations {}` undoes them",
        journal.record().op,
        done.migrations.join(", "),
        schema.migrations_dir.display()
    ));
}

/// The target failed after the deploy built its expansion: the expansion
/// stays (the live release never used it, and a fixed release reuses it),
/// which the error says, with the command that removes it.
fn expansion_kept(error: DeployError, done: &Switched) -> DeployError {
    match done
        .expanded
        .as_ref()
        .filter(|report| report.action == crate::expansion::ExpandAction::Expanded)
        .and_then(|report| report.migration.clone())
    {
        Some(migration) => DeployError::ExpansionKept {
            error: Box::new(error),
            migration,
        },
        None => error,
    }
}

/// Holds requests at the agent; noted in the journal first, so a crash
/// from here on leaves `hoist recover` a note to release them.
fn pause(
    context: &Context,
    journal: &mut Journal,
    max: Duration,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let Some(agent) = &context.agent else {
        return Ok(());
    };
    journal.step(Step::Pause)?;
    journal.set_paused(true)?;
    if let Err(problem) = agent.pause(max) {
        journal.set_paused(false)?;
        return Err(activate::failed(
            context, journal, &problem, false, reporter,
        ));
    }
    Ok(())
}

/// Releases requests held for this operation (best effort: the pause's
/// `--max` releases them anyway).
pub(crate) fn resume(context: &Context, journal: &mut Journal, reporter: &dyn Reporter) {
    if !journal.record().paused {
        return;
    }
    if let Some(Err(problem)) = context.agent.as_ref().map(|agent| agent.resume()) {
        reporter.warn(&format!(
            "could not resume held requests ({problem}); they resume when the pause runs out, or run `hoist resume`"
        ));
    }
    if let Err(error) = journal.set_paused(false) {
        reporter.warn(&format!(
            "could not note the resume in the journal: {error}"
        ));
    }
}

/// Puts the schema where the target needs it, before the route moves.
fn change_schema(
    context: &Context,
    journal: &mut Journal,
    plan: &Plan,
    reporter: &dyn Reporter,
    done: &mut Switched,
) -> Result<(), DeployError> {
    let expansion = plan.expansion.as_ref();
    let mut expanded = None;
    if let Some(expansion) = expansion {
        expanded = crate::expansion::contract_first(context, journal, expansion, reporter)
            .map_err(|error| crate::expansion::failed(context, journal, None, &error, reporter))?;
    }
    // A declarative migration is the last pending one: the classic ones stop before it.
    let below = expansion.and_then(crate::expansion::Expansion::version);
    match &plan.schema {
        SchemaChange::Keep => {}
        SchemaChange::Expand(schema) => {
            journal.step(Step::Migrate)?;
            // Noted before they run, so a crash before the switch can undo them.
            if let Ok(versions) = schema::pending_in(schema, Phase::Pre, below) {
                journal.set_migrating(versions)?;
            }
            match schema::deploy_phase(context, schema, Phase::Pre, below, reporter) {
                Ok(ran) => done.migrations = ran.ran,
                Err(error) => {
                    let failed = DeployError::MigrateFailed {
                        error: Box::new(error),
                    };
                    // Recorded as before; reported with the migration error's kind and hint.
                    return Err(
                        match activate::failed(
                            context,
                            journal,
                            &failed.to_string(),
                            true,
                            reporter,
                        ) {
                            DeployError::CandidateFailed { .. } => failed,
                            journal_error => journal_error,
                        },
                    );
                }
            }
        }
        SchemaChange::Undo {
            newer,
            versions,
            names,
        } => {
            journal.step(Step::MigrateDown)?;
            undo(context, journal, newer, versions, names, reporter, done)?;
        }
    }
    if let Some(expansion) = expansion {
        if below.is_some() {
            // The expansion stays with the classic migrations before it (it
            // builds on them): a crash from here on finishes it, undoes nothing.
            journal.set_migrating(Vec::new())?;
        }
        let report = crate::expansion::run(context, journal, expansion, expanded, reporter)
            .map_err(|error| {
                crate::expansion::failed(context, journal, Some(expansion), &error, reporter)
            })?;
        done.expanded = Some(report);
    }
    Ok(())
}

/// Runs the downs of `versions`, after a backup.
fn undo(
    context: &Context,
    journal: &mut Journal,
    newer: &Schema,
    versions: &[u64],
    names: &[String],
    reporter: &dyn Reporter,
    done: &mut Switched,
) -> Result<(), DeployError> {
    reporter.step("migrate", &format!("undoing {}", names.join(", ")));
    match schema::db_rollback(context, newer, &Undo::Versions(versions.to_vec()), false) {
        Ok(undone) => {
            done.undone = undone.ran;
            done.backup = undone.backup;
            journal.set_schema_changed()?;
            Ok(())
        }
        Err(error) => {
            let live = journal.record().from.clone().unwrap_or_default();
            let problem = format!(
                "undoing migrations failed, the code was not switched (`{live}` is still live): {error}; `hoist db status` shows what is applied, and `hoist db restore` puts back the backup taken first"
            );
            Err(activate::failed(
                context, journal, &problem, false, reporter,
            ))
        }
    }
}

/// Starts the target beside the live release for test traffic.
fn hold(
    context: &Context,
    journal: &mut Journal,
    plan_notes: &Option<String>,
    reporter: &dyn Reporter,
) -> Result<String, DeployError> {
    journal.step(Step::Hold)?;
    let release = journal.record().release.clone();
    let held = match &context.agent {
        Some(agent) => agent.hold(&release),
        None => Err("holding a release for testing needs a running agent".into()),
    };
    let summary = match held {
        Ok(summary) => summary,
        Err(problem) => return Err(activate::failed(context, journal, &problem, true, reporter)),
    };
    reporter.step("hold", &summary);
    let record = journal.record().clone();
    let event = hoist_ledger::Event {
        notes: plan_notes.clone(),
        ..activate::event(&record, Outcome::Ok, Some(summary.clone()))
    };
    context.record(&Write::Event { event }, reporter);
    activate::journal_done(context, journal)?;
    Ok(summary)
}

/// After the switch, from `from_step` on (recovery resumes here): record,
/// contract migrations once the old release drained, prune; then the
/// journal is done.
pub(crate) fn after(
    context: &Context,
    journal: &mut Journal,
    plan: &Plan,
    from_step: Step,
    reporter: &dyn Reporter,
    done: &mut Switched,
) -> Result<(), DeployError> {
    // The route is back already when the expansion cannot go (a release
    // on its new side still serves): the rollback is recorded and its
    // journal closed all the same, so `hoist db abort` (which the error
    // names) can run once that release stopped; the error comes last.
    let mut not_aborted = None;
    if let Some(schema) = plan
        .abort_expansion
        .as_ref()
        .filter(|_| from_step <= Step::AbortExpand)
    {
        journal.step(Step::AbortExpand)?;
        match crate::expansion_abort::after_rollback(context, journal, schema, reporter) {
            Ok(aborted) => done.aborted = aborted,
            Err(error) => not_aborted = Some(error),
        }
    }
    if from_step <= Step::Record {
        // What the schema did before the switch: expanded, or undone.
        // A join applied nothing: only an expansion (or its abort) is a migration run.
        let expanded: Vec<String> = done
            .expanded
            .iter()
            .filter(|report| report.action == crate::ExpandAction::Expanded)
            .filter_map(|report| report.migration.clone())
            .chain(done.aborted.iter().map(|aborted| aborted.name.clone()))
            .collect();
        let migrations = [
            done.migrations.as_slice(),
            done.undone.as_slice(),
            expanded.as_slice(),
        ]
        .concat();
        let detail = crate::hooks::with_failures(plan.detail.clone(), &done.hooks);
        let said = done
            .expanded
            .as_ref()
            .map(crate::ExpandReport::summary)
            .into_iter()
            .chain(
                done.aborted
                    .iter()
                    .map(|aborted| format!("removed the expansion `{}`", aborted.name)),
            )
            .collect::<Vec<_>>()
            .join("; ");
        let said = match &not_aborted {
            Some(error) if said.is_empty() => error.to_string(),
            Some(error) => format!("{said}; {error}"),
            None => said,
        };
        let detail = match detail {
            _ if said.is_empty() => detail,
            Some(detail) => Some(format!("{detail}; {said}")),
            None => Some(said),
        };
        record_success(
            context,
            journal,
            (detail, plan.notes.clone()),
            &migrations,
            reporter,
        )?;
    }
    if let Some(data) = plan.data.as_ref().filter(|_| from_step <= Step::Reload) {
        crate::data_tie::reload_data(context, journal, data, reporter)?;
    }
    if let Some(schema) = plan
        .post
        .as_ref()
        .filter(|_| from_step <= Step::MigratePost)
    {
        journal.step(Step::MigratePost)?;
        let old = journal.record().from.clone();
        if let Err(problem) = contract(context, schema, old.as_deref(), reporter, done) {
            // The new release is live and serving; only the contract step is missing.
            activate::journal_done(context, journal)?;
            return Err(DeployError::PostMigration {
                release: journal.record().release.clone(),
                problem,
            });
        }
    }
    if let Some(keep) = plan.prune {
        journal.step(Step::Prune)?;
        done.pruned = prune::prune_locked(context, keep, reporter)?.removed;
    }
    activate::journal_done(context, journal)?;
    not_aborted.map_or(Ok(()), Err)
}

/// Waits for the old release to drain, then runs the `phase = post`
/// migrations it could not have tolerated.
fn contract(
    context: &Context,
    schema: &Schema,
    old: Option<&str>,
    reporter: &dyn Reporter,
    done: &mut Switched,
) -> Result<(), String> {
    let migrations = schema.migrations().map_err(|error| error.to_string())?;
    if !migrations.iter().any(|m| m.phase == Phase::Post) {
        return Ok(());
    }
    if let (Some(agent), Some(old)) = (&context.agent, old) {
        reporter.step(
            "drain",
            &format!("waiting for `{old}` to finish its requests"),
        );
        agent.wait_drained(old)?;
    }
    let ran = schema::deploy_phase(context, schema, Phase::Post, None, reporter)
        .map_err(|error| error.to_string())?;
    done.migrations.extend(ran.ran);
    Ok(())
}
