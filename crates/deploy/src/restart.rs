//! `hoist restart` and `hoist abort`: switch phases that keep the live
//! release.
//!
//! ```text
//! restart, agent:     switch (a fresh process of the live release, swapped in once healthy) ─ record
//! restart, external:  restart ─ health ─ record
//! abort:              hold (the held candidate stops) ─ record
//! ```
//!
//! Both take the site lock and are journaled like every other change of
//! what users get: a `kill -9` leaves a journal `hoist recover` closes.

use crate::activate::{self, event};
use crate::attempt::Attempt;
use crate::{Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, Op, Step};
use serde::Serialize;

/// What a restart did.
#[derive(Debug, Clone, Serialize)]
pub struct RestartReport {
    /// The release restarted (still live).
    pub release: String,
    /// How: the agent's account, or the restart command.
    pub how: String,
    /// Wall time.
    pub duration_ms: u64,
}

/// Restarts the live release without a failed request: with an agent a
/// fresh process is started and swapped in once healthy (blue/green);
/// without one, `[deploy] restart` runs and `health` must answer.
pub fn restart(
    context: &Context,
    config: Option<&Config>,
    reason: Option<String>,
    reporter: &dyn Reporter,
) -> Result<RestartReport, DeployError> {
    let live = context.site.live().ok().flatten();
    let mut attempt = Attempt::new(context, Op::Restart, live, reason.clone());
    let result = restart_live(context, config, reason, reporter, &mut attempt);
    attempt.settle(context, result, reporter)
}

fn restart_live(
    context: &Context,
    config: Option<&Config>,
    reason: Option<String>,
    reporter: &dyn Reporter,
    attempt: &mut Attempt,
) -> Result<RestartReport, DeployError> {
    let started = std::time::Instant::now();
    context.refuse_if_pending()?;
    let lock = context.lock("restart", reporter)?;
    context.refuse_if_pending()?;
    let live = context
        .site
        .live()?
        .ok_or_else(|| DeployError::NothingLive {
            root: context.site.root().to_owned(),
        })?;
    attempt.aimed_at(&live);
    // Without an agent, a restart is the command and the check: with
    // neither, saying "restarted" would be untrue.
    if context.agent.is_none() {
        let settings = context.settings_for(&live, config)?;
        if settings.restart.is_none() && settings.health.is_none() {
            lock.release()?;
            return Err(DeployError::NothingToRestart { live });
        }
    }
    let mut journal = Journal::begin(
        &context.site,
        Op::Restart,
        &live,
        Some(live.clone()),
        reason,
    )?;
    attempt.journaled();
    let how = match &context.agent {
        Some(agent) => {
            journal.step(Step::Switch)?;
            reporter.step(
                "restart",
                &format!("agent: a fresh `{live}`, swapped in once healthy"),
            );
            agent.restart()
        }
        None => {
            let settings = context.settings_for(&live, config)?;
            activate::restart_and_check(
                context,
                &mut journal,
                &settings,
                &live,
                Step::Restart,
                reporter,
            )
            .map(|()| {
                settings
                    .restart
                    .unwrap_or_else(|| "no `restart` command; only `health` checked".into())
            })
        }
    };
    let how = match how {
        Ok(how) => how,
        Err(problem) => {
            let problem = format!("the restart of `{live}` failed: {problem}");
            return Err(activate::failed(
                context,
                &mut journal,
                &problem,
                false,
                reporter,
            ));
        }
    };
    record_ok(context, &mut journal, how.clone(), reporter)?;
    activate::journal_done(context, &mut journal)?;
    lock.release()?;
    Ok(RestartReport {
        release: live,
        how,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

/// Step `record`: the operation went through.
fn record_ok(
    context: &Context,
    journal: &mut Journal,
    detail: String,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    journal.step(Step::Record)?;
    let event = event(journal.record(), Outcome::Ok, Some(detail));
    context.record(&Write::Event { event }, reporter);
    Ok(())
}

/// Stops the held candidate `candidate` (`hoist abort`); everyone stays on
/// the live release. Returns the candidate the agent stopped, if any.
pub fn abort(
    context: &Context,
    candidate: &str,
    reason: Option<String>,
    reporter: &dyn Reporter,
) -> Result<Option<String>, DeployError> {
    let target = Some(candidate.to_owned());
    let mut attempt = Attempt::new(context, Op::Abort, target, reason.clone());
    let result = abort_held(context, candidate, reason, reporter, &mut attempt);
    attempt.settle(context, result, reporter)
}

fn abort_held(
    context: &Context,
    candidate: &str,
    reason: Option<String>,
    reporter: &dyn Reporter,
    attempt: &mut Attempt,
) -> Result<Option<String>, DeployError> {
    let agent = context.agent.as_ref().ok_or(DeployError::NeedsAgent {
        what: "stopping a held candidate",
    })?;
    context.refuse_if_pending()?;
    let lock = context.lock("abort", reporter)?;
    context.refuse_if_pending()?;
    let live = context.site.live()?;
    attempt.started_from(live.as_deref());
    let mut journal = Journal::begin(&context.site, Op::Abort, candidate, live.clone(), reason)?;
    attempt.journaled();
    journal.step(Step::Hold)?;
    let stopped = match agent.abort() {
        Ok(stopped) => stopped,
        Err(problem) => {
            return Err(activate::failed(
                context,
                &mut journal,
                &problem,
                false,
                reporter,
            ))
        }
    };
    if stopped.is_some() {
        let detail = "held candidate stopped; the live release never changed".to_owned();
        record_ok(context, &mut journal, detail, reporter)?;
    } else {
        let detail = "the agent held no candidate; nothing to stop".to_owned();
        let event = event(journal.record(), Outcome::Noop, Some(detail));
        context.record(&Write::Event { event }, reporter);
    }
    activate::journal_done(context, &mut journal)?;
    lock.release()?;
    Ok(stopped)
}
