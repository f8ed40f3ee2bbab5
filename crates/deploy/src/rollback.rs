//! `hoist rollback`, `hoist promote` and the agent's own rollback: a
//! switch phase ([`crate::switch`]) to a release already on disk.
//!
//! ```text
//! rollback:            switch ─ record
//! rollback --with-db:  pause ─ migrate-down ─ switch ─ resume ─ record
//!   before contract:   switch ─ abort-expand (stop the newer release, remove the expansion) ─ record
//! promote:             switch ─ record ─ migrate-post (the held candidate's contract)
//! auto-rollback:       as rollback; refused when the target predates the schema
//! ```
//!
//! With expand and contract (PostgreSQL), a release older than an open
//! expansion is no release that "predates" it: its shape is still there,
//! so the rollback is a route swap. One older than a contracted
//! expansion is refused ([`crate::rollback_expand`]), unless `--force`.

use crate::attempt::Attempt;
use crate::schema::Schema;
use crate::status::previous_release;
use crate::switch::{self, Plan, SchemaChange};
use crate::{verify, Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_ledger::ReleaseState;
use hoist_site::{Journal, Op};
use serde::Serialize;
use std::time::Duration;

/// Where a rollback goes, and how.
#[derive(Debug, Clone, Default)]
pub struct RollbackRequest {
    /// The release to go to (default: the previous one).
    pub to: Option<String>,
    /// Why (recorded in the ledger).
    pub reason: Option<String>,
    /// Also undo the migrations the target predates, before the switch.
    pub with_db: bool,
    /// Also move `data/current` back to the version the target went live with.
    pub with_data: bool,
    /// Hold requests (at the agent) while the schema and the route change,
    /// for at most this long.
    pub pause: Option<Duration>,
    /// Switch even to a release that predates a contracted declarative
    /// migration (its code meets a shape it does not know).
    pub force: bool,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// The release now live.
    pub release: String,
    /// The release live before (rolled back, or promoted, from).
    pub from: Option<String>,
    /// Applied migrations the release now live predates (its code does not know them).
    pub predates: Vec<String>,
    /// Migrations undone by `--with-db`.
    pub db_rolled_back: Vec<String>,
    /// The expansion `--with-db` removed (before contract: no downs run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expansion_aborted: Option<hoist_db::expand::Finished>,
    /// The database backup taken before `--with-db` undid anything.
    pub db_backup: Option<std::path::PathBuf>,
    /// The data version the release went live with, and whether `--with-data` went back to it.
    pub data: crate::RollbackData,
    /// The hooks that ran (`pre_switch` and `post_switch` for a promote,
    /// `post_rollback` for a rollback), failed ones included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::HookRun>,
    /// Wall time.
    pub duration_ms: u64,
}

/// Makes the held candidate `release` live for everyone (`hoist promote`):
/// the same checks and switch as a rollback, then the candidate's
/// `phase = post` migrations once the old release drained, as a deploy.
pub fn promote(
    context: &Context,
    release: &str,
    reason: Option<String>,
    reporter: &dyn Reporter,
) -> Result<RollbackReport, DeployError> {
    let request = RollbackRequest {
        to: Some(release.to_owned()),
        reason,
        ..RollbackRequest::default()
    };
    switch_release(context, &request, None, reporter, Op::Promote, None)
}

/// Rolls back to `request.to`, or to the previous release. With
/// `with_db`, first undoes the migrations that release predates (after a
/// backup), while requests are held.
pub fn rollback(
    context: &Context,
    request: &RollbackRequest,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<RollbackReport, DeployError> {
    switch_release(context, request, config, reporter, Op::Rollback, None)
}

/// The agent's own rollback after its watch found `bad` failing: the same
/// locked, journaled, recorded path as `hoist rollback --to to`, as
/// [`Op::AutoRollback`]. It never moves code onto a schema it predates, and
/// goes nowhere if `bad` is no longer live: it refuses, saying what to run.
pub fn auto_rollback(
    context: &Context,
    bad: &str,
    to: &str,
    reason: String,
    reporter: &dyn Reporter,
) -> Result<RollbackReport, DeployError> {
    let refuse = |problem: String, fix: &str| DeployError::AutoRollbackRefused {
        bad: bad.to_owned(),
        target: to.to_owned(),
        problem,
        fix: fix.to_owned(),
    };
    let live = context.site.live()?;
    if live.as_deref() != Some(bad) {
        return Err(refuse(
            format!("`{}` is live now", live.as_deref().unwrap_or("nothing")),
            "nothing to do",
        ));
    }
    let request = RollbackRequest {
        to: Some(to.to_owned()),
        reason: Some(reason),
        ..RollbackRequest::default()
    };
    switch_release(context, &request, None, reporter, Op::AutoRollback, Some(bad)).map_err(|error| match error {
        DeployError::LiveChanged { live } => refuse(
            format!("`{}` is live now", live.as_deref().unwrap_or("nothing")),
            "nothing to do",
        ),
        DeployError::SchemaPredated { migrations, .. } => refuse(
            format!("`{to}` predates applied migrations {}", migrations.join(", ")),
            "fix forward with a new deploy, or run `hoist rollback --with-db` to undo them and roll back together",
        ),
        DeployError::PendingRecovery { op, step, .. } => refuse(
            format!("an interrupted {op} (stopped during `{step}`) is pending"),
            "run `hoist recover`, then `hoist rollback` if still needed",
        ),
        other => other,
    })
}

/// [`switch_to`], recorded whatever becomes of it: a refusal (nothing to
/// roll back to, a release that fails `verify`, a schema `--with-db`
/// cannot undo, …) as `refused`, the target live already as `noop`. The
/// agent records its own refusals, with what its watch found.
fn switch_release(
    context: &Context,
    request: &RollbackRequest,
    config: Option<&Config>,
    reporter: &dyn Reporter,
    op: Op,
    expect_live: Option<&str>,
) -> Result<RollbackReport, DeployError> {
    let started = std::time::Instant::now();
    let mut attempt = Attempt::new(context, op, request.to.clone(), request.reason.clone());
    let result = switch_to(
        context,
        request,
        config,
        reporter,
        op,
        expect_live,
        &mut attempt,
    );
    let result = match op {
        Op::AutoRollback => result,
        _ => attempt.settle(context, result, reporter),
    };
    let event = match op {
        Op::Rollback => Some(hoist_notify::Event::Rollback),
        Op::AutoRollback => Some(hoist_notify::Event::AutoRollback),
        _ => None,
    };
    // A refusal (no such release, a lock held) changed nothing: not a failure to tell of.
    let event = event.filter(|_| result.is_ok() || attempt.began());
    if let Some(event) = event {
        let notice = crate::notice::Notice {
            release: result
                .as_ref()
                .map(|report| report.release.clone())
                .ok()
                .or_else(|| request.to.clone()),
            previous: result.as_ref().ok().and_then(|report| report.from.clone()),
            reason: request.reason.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            notes: None,
        };
        crate::notice::tell(context, event, &result, notice, reporter);
    }
    result
}

fn switch_to(
    context: &Context,
    request: &RollbackRequest,
    config: Option<&Config>,
    reporter: &dyn Reporter,
    op: Op,
    expect_live: Option<&str>,
    attempt: &mut Attempt,
) -> Result<RollbackReport, DeployError> {
    let (to, with_db) = (request.to.as_deref(), request.with_db);
    let started = std::time::Instant::now();
    // Known before the lock, so a refusal (a lock held) names its aim too.
    if to.is_none() {
        let live = context.site.live().ok().flatten();
        if let Ok(Some(previous)) = previous_release(context, live.as_deref()) {
            attempt.aimed_at(&previous);
        }
    }
    context.refuse_if_pending()?;
    crate::emergency::make_room(context, op.as_str(), reporter);
    let lock = context.lock(op.as_str(), reporter)?;
    context.refuse_if_pending()?;
    let live = context.site.live()?;
    attempt.started_from(live.as_deref());
    // Checked under the lock: the agent's rollback is for the release it watched.
    if expect_live.is_some_and(|expected| live.as_deref() != Some(expected)) {
        lock.release()?;
        return Err(DeployError::LiveChanged { live });
    }
    if let Some(problem) = &context.ledger_problem {
        reporter.warn(&format!(
            "the ledger cannot be opened ({problem}); going ahead without it, with the previous release taken from the releases on disk"
        ));
    }
    let target = match to {
        Some(to) => to.to_owned(),
        None => previous_release(context, live.as_deref())?.ok_or(DeployError::NoPrevious)?,
    };
    attempt.aimed_at(&target);
    if live.as_deref() == Some(target.as_str()) {
        let noop = format!("`{target}` is already live; nothing to do");
        reporter.step("noop", &noop);
        if op != Op::AutoRollback {
            attempt.noop(context, &noop, reporter);
        }
        lock.release()?;
        return Ok(RollbackReport {
            release: target,
            from: live,
            predates: Vec::new(),
            db_rolled_back: Vec::new(),
            expansion_aborted: None,
            db_backup: None,
            data: crate::RollbackData::default(),
            hooks: Vec::new(),
            duration_ms: 0,
        });
    }
    let is_id = hoist_store::ReleaseId::parse(&target).is_ok();
    if !is_id || !context.site.release_dir(&target).is_dir() {
        return Err(DeployError::UnknownRelease(target));
    }
    // The emergency path: a ledger that cannot be read does not block it.
    let known = context.ledger.release(&target).unwrap_or_else(|error| {
        reporter.warn(&format!(
            "cannot read `{target}` in the ledger ({error}); not checking whether it failed before"
        ));
        None
    });
    if let Some(row) = known {
        if row.state == ReleaseState::Failed {
            let failure = row.failure.unwrap_or_else(|| "no reason recorded".into());
            return Err(DeployError::ReleaseFailed {
                artifact: context.site.kept_artifact(&target),
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
    let data = crate::data_tie::plan_rollback(context, &target, request.with_data, reporter)?;
    // What the older release predates is read before the switch, with the
    // newer release's migrations: they hold the down files.
    let database = context
        .config_for(&target, config)?
        .and_then(|c| c.database);
    let schema = database
        .as_ref()
        .map(|database| Schema::for_release(context, database, &target))
        .transpose()?;
    // A code rollback is the emergency path: an unreachable database must
    // not block it, only `--with-db`, which needs the database.
    let newer = match (&database, &live) {
        (Some(database), Some(from)) => Some(Schema::for_release(context, database, from)?),
        _ => None,
    };
    let predates = match schema.as_ref().map(crate::schema::predated_by) {
        Some(Ok(predates)) => predates,
        // The agent's own rollback must know the schema allows it.
        Some(Err(error)) if op == Op::AutoRollback => {
            lock.release()?;
            return Err(error);
        }
        Some(Err(error)) if !with_db => {
            reporter.warn(&format!(
                "cannot read the schema ({error}); rolling back the code only"
            ));
            Vec::new()
        }
        Some(Err(error)) => return Err(error),
        None => Vec::new(),
    };
    // Expand and contract: an open expansion is no schema the target
    // predates (its shape is still there), a contracted one is refused.
    let declared = crate::rollback_expand::sort(schema.as_ref(), newer.as_ref(), predates);
    let declared = match declared {
        Ok(declared) => declared,
        Err(error) if op == Op::AutoRollback || with_db => {
            lock.release()?;
            return Err(error);
        }
        Err(error) => {
            reporter.warn(&format!(
                "cannot read the expansion state ({error}); rolling back the code only"
            ));
            crate::rollback_expand::Sorted::default()
        }
    };
    if let Some(refused) = declared.refuse(&target, request.force, reporter) {
        lock.release()?;
        return Err(refused);
    }
    let predates = declared.classic;
    let mut report = RollbackReport {
        release: target.clone(),
        from: live.clone(),
        predates: predates.iter().map(|row| row.name.clone()).collect(),
        db_rolled_back: Vec::new(),
        expansion_aborted: None,
        db_backup: None,
        data: data.clone(),
        hooks: Vec::new(),
        duration_ms: 0,
    };
    // Code is never moved onto a schema it predates without an operator
    // saying so: the agent's own rollback stops here.
    if op == Op::AutoRollback && !predates.is_empty() {
        lock.release()?;
        return Err(DeployError::SchemaPredated {
            target,
            migrations: report.predates,
        });
    }
    // `--with-db` before contract: the route swaps back, then the
    // expansion goes (after any classic downs, which ran before it).
    let abort_expansion = schema
        .clone()
        .filter(|_| with_db && declared.open.is_some());
    if abort_expansion.is_some() && !predates.is_empty() {
        lock.release()?;
        return Err(DeployError::WithDbMixed {
            target,
            classic: report.predates,
            open: declared.open.unwrap_or_default(),
        });
    }
    if abort_expansion.is_some() {
        let open = declared.open.as_deref();
        if let Some(refused) =
            crate::rollback_expand::refuse_unabortable(newer.as_ref(), open, &target)
        {
            lock.release()?;
            return Err(refused);
        }
    }
    let undo = match (with_db && !predates.is_empty(), newer) {
        (true, Some(newer)) => SchemaChange::Undo {
            newer,
            versions: predates.iter().map(|row| row.version).collect(),
            names: report.predates.clone(),
        },
        // A rollback `--to` a newer release (after a `--with-db`) is a roll
        // forward: its pending migrations run before the switch, as a
        // deploy's do, or its code would meet a schema it does not know.
        _ => match &schema {
            Some(schema) if op != Op::AutoRollback && rolls_forward(schema) => {
                SchemaChange::Expand(schema.clone())
            }
            _ => SchemaChange::Keep,
        },
    };
    let forward = matches!(undo, SchemaChange::Expand(_));
    // Rolling forward onto a declarative migration (after an abort): the
    // expansion runs again, as a deploy's, and never contracts another.
    let expansion = match &schema {
        Some(schema) if forward => crate::expansion::plan(context, schema, &target, true)?,
        _ => None,
    };
    // Journaled only once the database question is settled: a refusal above leaves nothing to recover.
    let mut journal = Journal::begin(
        &context.site,
        op,
        &target,
        live.clone(),
        request.reason.clone(),
    )?;
    attempt.journaled();
    if !predates.is_empty() && !with_db {
        reporter.warn(&format!(
            "`{target}` predates applied migrations {}; the schema stays as it is (add `--with-db` to run their downs)",
            report.predates.join(", ")
        ));
    }
    let plan = Plan {
        pause: request.pause,
        schema: undo,
        post: schema.filter(|_| op == Op::Promote || forward),
        detail: request.reason.clone(),
        data: Some(data),
        hooks: crate::hooks::of(context, &target, config)?,
        expansion,
        abort_expansion,
        ..Plan::switch(settings)
    };
    let switched = switch::run(context, &mut journal, &plan, reporter)?;
    report.hooks = switched.hooks;
    report.expansion_aborted = switched.aborted;
    report.db_rolled_back = switched.undone;
    report.db_backup = switched.backup;
    lock.release()?;
    context.site.keep_reserve();
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Whether `schema` (the target's migrations) has any not yet applied,
/// classic or declarative.
fn rolls_forward(schema: &Schema) -> bool {
    let classic = [hoist_db::Phase::Pre, hoist_db::Phase::Post]
        .into_iter()
        .any(|phase| crate::schema::pending_in(schema, phase, None).is_ok_and(|v| !v.is_empty()));
    classic || crate::schema::pending_declarative(schema).is_ok_and(|v| v.is_some())
}

/// How long requests are held around a schema change when nobody said.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(30);

/// `hoist recover` after a kill during `migrate-down`: the schema started
/// going back, so the rollback is finished: the downs still to run (the
/// ones already run are no longer applied), then the switch.
pub(crate) fn resume_undo(
    context: &Context,
    journal: &mut Journal,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let record = journal.record().clone();
    let target = record.release.as_str();
    let database = context.config_for(target, config)?.and_then(|c| c.database);
    let undo = match (&database, &record.from) {
        (Some(database), Some(from)) => {
            let own = Schema::for_release(context, database, target)?;
            let newer = Schema::for_release(context, database, from)?;
            // Only classic migrations have downs; an open expansion stays.
            let predates = crate::rollback_expand::sort(
                Some(&own),
                Some(&newer),
                crate::schema::predated_by(&own)?,
            )?
            .classic;
            if predates.is_empty() {
                SchemaChange::Keep
            } else {
                SchemaChange::Undo {
                    newer: Schema::for_release(context, database, from)?,
                    versions: predates.iter().map(|row| row.version).collect(),
                    names: predates.iter().map(|row| row.name.clone()).collect(),
                }
            }
        }
        _ => SchemaChange::Keep,
    };
    let plan = Plan {
        pause: context.agent.as_ref().map(|_| DEFAULT_PAUSE),
        schema: undo,
        detail: Some("finished by `hoist recover` after stopping during `migrate-down`".into()),
        hooks: crate::hooks::of(context, target, config)?,
        ..Plan::switch(context.settings_for(target, config)?)
    };
    switch::run(context, journal, &plan, reporter).map(drop)
}
