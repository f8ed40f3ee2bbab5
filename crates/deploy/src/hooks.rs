//! `[hooks]`: the app's own commands around a switch, a rollback and a
//! data roll, each a journaled step.
//!
//! ```text
//!  deploy, promote:  Step::PreSwitchHook  pre_switch   before the pause and migrations;
//!                                                      failing aborts, nothing live changed
//!                    ... switch, restart, health ...
//!                    Step::PostHook       post_switch  before the ledger records the switch
//!  rollback (by hand, or the agent's own):
//!                    Step::PostHook       post_rollback
//!  data roll, data revert:
//!                    Step::PostHook       post_data_roll, once the app took the new data
//! ```
//!
//! The hooks are those of the release going live (its shipped `hoist.toml`,
//! or `--config`), run with `sh -c` in that release's directory, with the
//! environment the app gets (`HOIST_RELEASE`, `HOIST_ROOT`,
//! `HOIST_RELEASE_DIR`, `HOIST_DATA`, the site's env file) plus
//! `HOIST_HOOK`, `HOIST_FROM` and `HOIST_TO` (release ids, or data
//! version ids for `post_data_roll`; empty when there is none) and
//! `HOIST_OP` (the operation's id). The timeout covers the hook's whole
//! process group and its output: at the timeout the group is killed,
//! whether the hook still runs or it left a process holding its output
//! (a background child not redirected: the hook failed, naming it).
//! A hook's process group dies with hoist (see `hoist_site::command`).
//!
//! A failed post hook is reported and recorded with the operation, and
//! the switch stands, unless the hook is `required`: then a failed
//! `post_switch` switches back as a failed health check does. A rollback
//! is never undone for its hook: it is the way out. A hook killed with
//! hoist (`kill -9`) runs again in `hoist recover`, so hooks should be
//! safe to run twice.
//!
//! No hook runs for a restart in place (the release does not change) or
//! for a held candidate (nothing users get changes; its promote runs them).

use crate::{Context, DeployError, Reporter};
use hoist_config::{Config, Hook, Hooks};
use hoist_site::{Journal, Op, Step};
use serde::Serialize;

/// A hook that ran, for the operation's report.
#[derive(Debug, Clone, Serialize)]
pub struct HookRun {
    /// `pre_switch`, `post_switch`, `post_rollback` or `post_data_roll`.
    pub hook: &'static str,
    /// The command.
    pub command: String,
    /// It exited 0 within its timeout.
    pub ok: bool,
    /// How it ended: `exit status: 0`, or `killed after its timeout of 30s`.
    pub status: String,
    /// The last lines of its output when it failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tail: String,
    /// The release it ran in.
    pub release: String,
}

impl HookRun {
    /// One line for errors and the ledger: which hook, how it ended.
    pub(crate) fn problem(&self) -> String {
        format!(
            "hook `{}` (`{}`) failed ({})",
            self.hook, self.command, self.status
        )
    }

    /// `\n` and the last lines it printed, if any: said after the rest.
    pub(crate) fn output(&self) -> String {
        match self.tail.is_empty() {
            true => String::new(),
            false => format!("\n{}", self.tail),
        }
    }
}

/// The post hook `op` runs, by its key.
pub(crate) fn post_of(hooks: &Hooks, op: Op) -> Option<(&'static str, &Hook)> {
    match op {
        Op::Deploy | Op::Promote => hooks.post_switch.as_ref().map(|h| ("post_switch", h)),
        Op::Rollback | Op::AutoRollback => {
            hooks.post_rollback.as_ref().map(|h| ("post_rollback", h))
        }
        Op::DataRoll | Op::DataRevert => {
            hooks.post_data_roll.as_ref().map(|h| ("post_data_roll", h))
        }
        Op::Stage
        | Op::Hold
        | Op::Prune
        | Op::Abort
        | Op::Restart
        | Op::Repair
        | Op::DbComplete
        | Op::DbAbort => None,
    }
}

/// The hooks of `release`: those of the config given, else those it ships.
pub(crate) fn of(
    context: &Context,
    release: &str,
    given: Option<&Config>,
) -> Result<Hooks, DeployError> {
    Ok(context
        .config_for(release, given)?
        .map(|config| config.hooks)
        .unwrap_or_default())
}

/// Step `pre-switch-hook` of a deploy or promote: runs `pre_switch` in
/// the target; a failure ends the operation (recorded, journal done)
/// before anything live changed.
pub(crate) fn pre_switch(
    context: &Context,
    journal: &mut Journal,
    hooks: &Hooks,
    reporter: &dyn Reporter,
) -> Result<Option<HookRun>, DeployError> {
    let Some(hook) = &hooks.pre_switch else {
        return Ok(None);
    };
    journal.step(Step::PreSwitchHook)?;
    let record = journal.record().clone();
    let ran = run(
        context,
        journal,
        "pre_switch",
        hook,
        &record.release,
        (record.from.as_deref(), Some(&record.release)),
        reporter,
    )?;
    if ran.ok {
        return Ok(Some(ran));
    }
    let live = record.from.clone();
    let problem = format!(
        "{}; nothing was switched{}",
        ran.problem(),
        live.as_deref()
            .map(|live| format!(", `{live}` stays live"))
            .unwrap_or_default()
    );
    // Recorded, and the journal ended; an error doing that comes first.
    let ended = crate::activate::failed(context, journal, &problem, false, reporter);
    if !matches!(ended, DeployError::CandidateFailed { .. }) {
        return Err(ended);
    }
    Err(DeployError::HookFailed {
        hook: ran.hook,
        command: ran.command,
        status: ran.status,
        tail: ran.tail,
        live,
    })
}

/// Step `post-hook`: runs the journaled operation's post hook in
/// `release` (the live one), from `from` to `to`. `Ok(None)` when there
/// is none; a failure is the caller's to report or act on.
pub(crate) fn post(
    context: &Context,
    journal: &mut Journal,
    hooks: &Hooks,
    release: &str,
    (from, to): (Option<&str>, Option<&str>),
    reporter: &dyn Reporter,
) -> Result<Option<(HookRun, bool)>, DeployError> {
    let Some((name, hook)) = post_of(hooks, journal.record().op) else {
        return Ok(None);
    };
    journal.step(Step::PostHook)?;
    let ran = run(context, journal, name, hook, release, (from, to), reporter)?;
    if !ran.ok {
        let outcome = match hook.required {
            true => "switching back (the hook is `required`)".to_owned(),
            false => format!(
                "the {} stands (the hook is not `required`)",
                journal.record().op
            ),
        };
        reporter.warn(&format!("{}; {outcome}{}", ran.problem(), ran.output()));
    }
    Ok(Some((ran, hook.required)))
}

/// Runs `hook` in `release`'s directory with the app's environment.
fn run(
    context: &Context,
    journal: &mut Journal,
    name: &'static str,
    hook: &Hook,
    release: &str,
    (from, to): (Option<&str>, Option<&str>),
    reporter: &dyn Reporter,
) -> Result<HookRun, DeployError> {
    reporter.step("hook", &format!("{name}: {}", hook.command));
    let op_id = journal.record().op_id.clone();
    let dir = context.site.release_dir(release);
    let mut env = app_env(context, release)?;
    let root = context.site.root().to_string_lossy().into_owned();
    let dir_text = dir.to_string_lossy().into_owned();
    let data = context
        .site
        .data_current_link()
        .to_string_lossy()
        .into_owned();
    for (key, value) in [
        ("HOIST_RELEASE", release),
        ("HOIST_ROOT", root.as_str()),
        ("HOIST_RELEASE_DIR", dir_text.as_str()),
        ("HOIST_DATA", data.as_str()),
        ("HOIST_HOOK", name),
        ("HOIST_FROM", from.unwrap_or("")),
        ("HOIST_TO", to.unwrap_or("")),
        // Marks the hook's processes as this operation's, for `hoist recover`.
        ("HOIST_OP", op_id.as_str()),
    ] {
        env.push((key.to_owned(), value.to_owned()));
    }
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Journaled so that `hoist recover` can stop what a killed hoist left.
    let mut noted = Ok(());
    let mut started = |group: u32| noted = journal.set_hook_group(Some(group));
    let finished =
        hoist_site::command::run_bounded(&hook.command, &dir, &pairs, hook.timeout, &mut started)
            .map_err(|cause| DeployError::Spawn {
            command: hook.command.clone(),
            cause,
        })?;
    noted?;
    journal.set_hook_group(None)?;
    let status = match (finished.timed_out, finished.left_running.as_slice()) {
        (true, _) => format!("killed after its timeout of {}", friendly(hook.timeout)),
        (false, []) => finished.status.clone(),
        (false, left) => format!(
            "left {} running with its output open; killed at its timeout of {}",
            left.join(", "),
            friendly(hook.timeout)
        ),
    };
    let ok = finished.success && !finished.timed_out;
    Ok(HookRun {
        hook: name,
        command: hook.command.clone(),
        ok,
        status,
        tail: if ok { String::new() } else { finished.tail() },
        release: release.to_owned(),
    })
}

/// What the app's processes get from the site: its env file (`[process]
/// env_file` of the host's settings), read as the agent reads it, and
/// the release's database schema (`HOIST_DB_SCHEMA`, `PGOPTIONS`).
fn app_env(context: &Context, release: &str) -> Result<Vec<(String, String)>, DeployError> {
    let file = context
        .config_for(release, None)?
        .and_then(|config| config.process)
        .and_then(|process| process.env_file);
    let mut env = match file {
        Some(file) => {
            hoist_config::parse_env_file(&hoist_site::read_secret(&context.site.root().join(file))?)
        }
        None => Vec::new(),
    };
    if let Some(schema) = hoist_site::db_schema(&context.site, release)? {
        schema.apply(&mut env);
    }
    Ok(env)
}

/// The database part of [`app_env`] alone, for the external restart
/// command (which gets no env file): `HOIST_DB_SCHEMA`, and `PGOPTIONS`
/// with the release's `search_path` after the env file's own options.
pub(crate) fn schema_env(
    context: &Context,
    release: &str,
) -> Result<Vec<(String, String)>, DeployError> {
    let names = [hoist_site::SCHEMA_ENV, hoist_site::PGOPTIONS_ENV];
    let Some(schema) = hoist_site::db_schema(&context.site, release)? else {
        return Ok(Vec::new());
    };
    let mut env = app_env(context, release)?;
    env.retain(|(name, _)| names.contains(&name.as_str()));
    if !schema.has_view() {
        // The base schema sets no search path: the env file's own options stay its own.
        env.retain(|(name, _)| name != hoist_site::PGOPTIONS_ENV);
    }
    Ok(env)
}

/// `30s`, `2m 5s`: the timeout as a person writes it.
fn friendly(duration: std::time::Duration) -> String {
    jiff::SignedDuration::try_from(duration)
        .map(|signed| format!("{signed:#}"))
        .unwrap_or_else(|_| format!("{}s", duration.as_secs()))
}

/// Step `post-hook` of a switch that happened (`run`, or `recover`
/// finishing one): a failed `required` `post_switch` switches back (the
/// error says so); any other failure is reported and the switch stands.
pub(crate) fn after_switch(
    context: &Context,
    journal: &mut Journal,
    plan: &crate::switch::Plan,
    reporter: &dyn Reporter,
    done: &mut crate::switch::Switched,
) -> Result<(), DeployError> {
    let record = journal.record().clone();
    let span = (record.from.as_deref(), Some(record.release.as_str()));
    let Some((ran, required)) = post(
        context,
        journal,
        &plan.hooks,
        &record.release,
        span,
        reporter,
    )?
    else {
        return Ok(());
    };
    let problem = ran.problem();
    done.hooks.push(ran);
    if done.hooks.last().is_some_and(|ran| ran.ok) || !required {
        return Ok(());
    }
    crate::activate::switch_back(context, journal, &plan.settings, &problem, reporter)
}

/// The ledger's `detail` with each failed hook added, so `hoist history`
/// shows it beside the operation.
pub(crate) fn with_failures(detail: Option<String>, hooks: &[HookRun]) -> Option<String> {
    let failed: Vec<String> = hooks
        .iter()
        .filter(|ran| !ran.ok)
        .map(HookRun::problem)
        .collect();
    if failed.is_empty() {
        return detail;
    }
    Some(
        detail
            .into_iter()
            .chain(failed)
            .collect::<Vec<_>>()
            .join("; "),
    )
}
