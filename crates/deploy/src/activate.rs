//! The part every switch shares: point `current` at the target, restart,
//! health-check, and switch back on failure. Used by deploy, rollback and
//! recover, so all three behave the same when an app will not come up.

use crate::proof::Proof;
use crate::Context;
use crate::{command, health, listeners, DeployError, Reporter};
use hoist_config::Deploy;
use hoist_ledger::{Event, Outcome, ReleaseState, Write};
use hoist_site::{durable, Journal, JournalRecord, Op, Step};

/// Builds the ledger event for the journaled operation: `from` is the
/// release live when it began, `to` the one it aimed at whatever the
/// outcome (the live release, for operations that keep it), and holds,
/// promotes and aborts name their candidate.
pub(crate) fn event(record: &JournalRecord, outcome: Outcome, detail: Option<String>) -> Event {
    let finished_at = jiff::Timestamp::now();
    let duration = finished_at
        .duration_since(record.started_at)
        .as_millis()
        .max(0) as u64;
    let (to, candidate) = crate::attempt::aim(
        record.op,
        record.from.as_deref(),
        Some(record.release.as_str()),
    );
    Event {
        op_id: record.op_id.clone(),
        op: record.op.as_str().to_owned(),
        release: Some(record.release.clone()),
        from: record.from.clone(),
        to,
        candidate,
        migrations: Vec::new(),
        outcome,
        reason: record.reason.clone(),
        detail,
        user: record.user.clone(),
        host: record.host.clone(),
        started_at: record.started_at,
        finished_at,
        duration_ms: duration,
        fleet_op: None,
        notes: None,
    }
}

/// Switches to the journal's release, then restarts and health-checks it
/// (starting at `from_step`, so recovery can resume mid-way). On failure it
/// switches back, marks the release failed, records why, and errors.
pub(crate) fn activate(
    context: &Context,
    journal: &mut Journal,
    settings: &Deploy,
    from_step: Step,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let target = journal.record().release.clone();
    if let Some(agent) = &context.agent {
        if from_step != Step::Record {
            if let Some(path) = crate::smoke::crawl_path(journal.record().op, settings) {
                crate::smoke::walk_candidate(
                    context,
                    journal,
                    agent.as_ref(),
                    &settings.smoke,
                    path,
                    reporter,
                )?;
            }
            journal.step(Step::Switch)?;
            // A promoted candidate runs already: only the traffic moves.
            let what = match journal.record().op {
                Op::Promote => {
                    format!("agent: switching traffic to the running candidate `{target}`")
                }
                // A rollback to a release kept warm starts nothing: say so.
                Op::Rollback | Op::AutoRollback if is_warm(agent.as_ref(), &target) => {
                    format!("agent: switching traffic to `{target}`, which runs warm")
                }
                _ => format!("agent: starting `{target}`, switching traffic once it is healthy"),
            };
            reporter.step("switch", &what);
            return match agent.activate(&target, journal.record().op) {
                Ok(summary) => {
                    reporter.step("switch", &summary);
                    Ok(())
                }
                // The agent's own rollback goes to a release that was good: a
                // refusal (e.g. the agent shutting down) is not the release's fault.
                Err(problem) => {
                    let blame = journal.record().op != Op::AutoRollback;
                    Err(failed(context, journal, &problem, blame, reporter))
                }
            };
        }
    }
    if from_step == Step::Switch {
        journal.step(Step::Switch)?;
        reporter.step("switch", &format!("current -> releases/{target}"));
        context.site.switch_to(&target)?;
    }
    let problem = match restart_and_check(context, journal, settings, &target, from_step, reporter)
    {
        Ok(()) => return Ok(()),
        Err(problem) => problem,
    };
    switch_back(context, journal, settings, &problem, reporter)
}

pub(crate) fn restart_and_check(
    context: &Context,
    journal: &mut Journal,
    settings: &Deploy,
    target: &str,
    from_step: Step,
    reporter: &dyn Reporter,
) -> Result<(), String> {
    // Resumed after a crash at `health`: the restart ran some time after the operation began.
    let mut began = if from_step == Step::Health {
        listeners::ticks_at(journal.record().started_at)
    } else {
        None
    };
    // Resumed at `walk`: restart and health check passed; only the walk runs again.
    let walk_only = from_step == Step::Walk;
    if from_step != Step::Health && !walk_only {
        if let Some(restart) = &settings.restart {
            journal
                .step(Step::Restart)
                .map_err(|error| error.to_string())?;
            reporter.step("restart", restart);
            began = listeners::now_ticks();
            restart_command(context, target, restart)?;
        }
    }
    if let Some(url) = settings.health.as_ref().filter(|_| !walk_only) {
        journal
            .step(Step::Health)
            .map_err(|error| error.to_string())?;
        reporter.step("health", url);
        let before = journal.record().from.as_deref();
        wait_proven(context, settings, url, target, before, began, reporter)?;
    }
    if let Some(path) = crate::smoke::crawl_path(journal.record().op, settings) {
        match &settings.health {
            Some(health) => {
                // Journaled, so a kill here is known to have cut the walk
                // short: recover walks again rather than record it ok.
                journal.step(Step::Walk).map_err(|error| error.to_string())?;
                crate::smoke::walk_external(context, health, &settings.smoke, path, target, reporter)?
            }
            None => reporter.warn(
                "`[deploy.smoke] crawl` is set, but without an agent the walk needs `[deploy] health` to know where the app answers; no link walk ran",
            ),
        }
    }
    Ok(())
}

/// Waits until `url` (a `deploy.health` value, variables unresolved)
/// answers 2xx from `target`, started after `began`, not from `before`
/// (the restart proof); a warning when the proof cannot place what answers.
pub(crate) fn wait_proven(
    context: &Context,
    settings: &Deploy,
    url: &str,
    target: &str,
    before: Option<&str>,
    began: Option<u64>,
    reporter: &dyn Reporter,
) -> Result<(), String> {
    let url = context
        .resolve("deploy.health", url)
        .map_err(|error| error.to_string())?;
    let proof = Proof {
        root: context.site.root(),
        url: &url,
        target,
        before,
        began,
        header: release_header(settings)?,
    };
    let judge = |headers: &hyper::HeaderMap| proof.judge(headers);
    if let Some(warning) = health::wait_healthy(&url, settings.health_timeout, &judge)? {
        reporter.warn(&warning);
    }
    Ok(())
}

/// The header `health_release` reads, if it is on.
pub(crate) fn release_header(
    settings: &Deploy,
) -> Result<Option<hyper::header::HeaderName>, String> {
    if !settings.health_release {
        return Ok(None);
    }
    let name = match settings.release_header.as_str() {
        "" => "X-Hoist-Release",
        name => name,
    };
    name.parse().map(Some).map_err(|_| {
        format!("`proxy.release_header` `{name}` is not a header name, so `health_release` cannot check it")
    })
}

fn restart_command(context: &Context, release: &str, restart: &str) -> Result<(), String> {
    let dir = context.site.release_dir(release);
    let root = context.site.root().to_string_lossy().into_owned();
    let dir_text = dir.to_string_lossy().into_owned();
    let schema = crate::hooks::schema_env(context, release).map_err(|error| error.to_string())?;
    let mut env = vec![
        ("HOIST_RELEASE", release),
        ("HOIST_ROOT", root.as_str()),
        ("HOIST_RELEASE_DIR", dir_text.as_str()),
    ];
    env.extend(
        schema
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let finished = command::run(restart, &dir, &env).map_err(|error| error.to_string())?;
    if finished.success {
        Ok(())
    } else {
        Err(format!(
            "restart `{restart}` failed ({})\n{}",
            finished.status,
            finished.tail()
        ))
    }
}

/// The operation stopped before anything users get changed: record why
/// (marking the target release failed when `blame_release`, as for a
/// candidate that would not start), end the journal, and return the
/// error to report.
pub(crate) fn failed(
    context: &Context,
    journal: &mut Journal,
    problem: &str,
    blame_release: bool,
    reporter: &dyn Reporter,
) -> DeployError {
    let record = journal.record().clone();
    let event = event(&record, Outcome::Failed, Some(problem.to_owned()));
    let write = if blame_release {
        Write::Failure {
            release: record.release.clone(),
            failure: problem.to_owned(),
            event,
        }
    } else {
        Write::Event { event }
    };
    context.record(&write, reporter);
    if let Err(error) = journal_done(context, journal) {
        return error;
    }
    DeployError::CandidateFailed {
        problem: problem.to_owned(),
    }
}

/// Puts the journal's `from` release back (or removes `current` if there
/// was none), restarts it, and records the failed attempt.
pub(crate) fn switch_back(
    context: &Context,
    journal: &mut Journal,
    settings: &Deploy,
    problem: &str,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    journal.step(Step::SwitchBack)?;
    let record = journal.record().clone();
    let restored = record.from.clone();
    // Said only once the old release answers again; else what it does instead.
    let mut unhealthy = None;
    match (&restored, &context.agent) {
        // The agent moves `current` and the route back together (a
        // required post hook failed after its switch).
        (Some(from), Some(agent)) => {
            reporter.step("switch-back", &format!("agent: switching back to `{from}`"));
            match agent.activate(from, Op::Rollback) {
                Ok(summary) => reporter.step("switch-back", &summary),
                Err(problem) => unhealthy = Some(problem),
            }
        }
        (Some(from), None) => {
            reporter.step("switch-back", &format!("current -> releases/{from}"));
            context.site.switch_to(from)?;
            let own = context.settings_for(from, None).ok();
            let mut began = None;
            if let Some(restart) = own
                .as_ref()
                .and_then(|own| own.restart.clone())
                .or(settings.restart.clone())
            {
                began = crate::back_health::now();
                if let Err(again) = restart_command(context, from, &restart) {
                    reporter.warn(&format!(
                        "restarting `{from}` after switching back also failed: {again}"
                    ));
                }
            }
            let checked = own
                .as_ref()
                .filter(|own| own.health.is_some())
                .unwrap_or(settings);
            let back =
                crate::back_health::check(context, checked, from, &record.release, began, reporter);
            unhealthy = back.err();
        }
        (None, _) => durable::remove_file(&context.site.current_link())?,
    }
    let problem = match (&unhealthy, &restored) {
        (Some(health), Some(from)) => format!(
            "{problem}; switched back to `{from}`, but `{from}` does not answer health: {health}"
        ),
        _ => problem.to_owned(),
    };
    let problem = problem.as_str();
    let event = event(&record, Outcome::RolledBack, Some(problem.to_owned()));
    let failure = Write::Failure {
        release: record.release.clone(),
        failure: problem.to_owned(),
        event,
    };
    context.record(&failure, reporter);
    journal_done(context, journal)?;
    Err(match restored {
        Some(restored) if unhealthy.is_some() => DeployError::SwitchedBackUnhealthy {
            problem: problem.to_owned(),
            restored,
        },
        Some(restored) => DeployError::SwitchedBack {
            problem: problem.to_owned(),
            restored,
        },
        None => DeployError::FirstDeployFailed {
            problem: problem.to_owned(),
        },
    })
}

/// The state the release we switched away from is left in: going back
/// marks it rolled back; a deploy, or `rollback --to` a newer release
/// (a roll-forward), leaves it good.
pub(crate) fn left_state(record: &JournalRecord) -> ReleaseState {
    let forward = record
        .from
        .as_deref()
        .is_none_or(|from| record.release.as_str() > from);
    if matches!(record.op, Op::Rollback | Op::AutoRollback) && !forward {
        ReleaseState::RolledBack
    } else {
        ReleaseState::Good
    }
}

/// Records a successful switch (in the ledger, or pending beside it).
pub(crate) fn record_success(
    context: &Context,
    journal: &mut Journal,
    (detail, notes): (Option<String>, Option<String>),
    migrations: &[String],
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    journal.step(Step::Record)?;
    let record = journal.record().clone();
    let left = left_state(&record);
    let switch = Write::Switch {
        event: Event {
            migrations: migrations.to_vec(),
            notes,
            ..event(&record, Outcome::Ok, detail)
        },
        live: record.release.clone(),
        left: record.from.clone().map(|from| (from, left)),
    };
    context.record(&switch, reporter);
    crate::data_tie::note_switch(context, &record, reporter);
    Ok(())
}

/// Ends the journaled operation: drops the incoming copy, then the journal.
pub(crate) fn journal_done(context: &Context, journal: &mut Journal) -> Result<(), DeployError> {
    // Requests held for this operation go before the note that they are held.
    if journal.record().paused {
        if let Some(Err(problem)) = context.agent.as_ref().map(|agent| agent.resume()) {
            tracing::warn!(%problem, "could not resume held requests; they resume when the pause runs out");
        }
        journal.forget_paused();
    }
    if let Some(incoming) = &journal.record().incoming {
        durable::remove_file(incoming)?;
    }
    let finished = Journal::resume(&context.site, journal.record().clone());
    finished.finish()?;
    Ok(())
}

/// Whether the agent keeps `release` warm (a rollback to it is a route
/// swap); `false` when the agent cannot say.
fn is_warm(agent: &dyn crate::AgentLink, release: &str) -> bool {
    agent.running().is_ok_and(|running| {
        running
            .iter()
            .any(|run| run.release == release && run.role == crate::Role::Warm)
    })
}
