//! `hoist deploy`: the stage phase, then the switch phase.
//!
//! ```text
//! lock ─ journal ─ stage (copy … ready) ─┬─ switch: [pause] [complete] migrate [expand] ─ switch ─ record ─ migrate-post ─ prune
//!                                        └─ --hold: [complete] migrate [expand] ─ hold (beside the live release)
//! ```

use crate::attempt::Attempt;
use crate::stage::{same_content, stage};
use crate::switch::{self, Plan, SchemaChange};
use crate::{Context, DeployError, Reporter};
use hoist_config::{Config, Deploy};
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, Op};
use hoist_store::Artifact;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// What to deploy.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// The artifact file.
    pub artifact: PathBuf,
    /// The config to use; `None` means the `hoist.toml` shipped in the artifact.
    pub config: Option<Config>,
    /// Why (recorded in the ledger).
    pub reason: Option<String>,
    /// Start the release beside the live one for test traffic instead of switching.
    pub hold: bool,
    /// Hold requests (at the agent) across the migrations and the switch, for at most this long.
    pub pause: Option<Duration>,
    /// Move `data/current` to this data version (id, prefix or label) in
    /// the same switch, before the code: a release and the data it needs go
    /// live together.
    pub with_data: Option<String>,
    /// Stage only: leave the release ready on disk, switch nothing (the
    /// first phase of a fleet deploy on each host).
    pub stage_only: bool,
    /// The deployment notes (`hoist notes`): shown before the switch,
    /// kept in the ledger with it, and sent with the notification.
    pub notes: Option<hoist_notes::Notes>,
    /// Never contract an open expansion to make room for the release's
    /// own (refuse instead): a fleet's hosts, whose fleet deploy checks
    /// every host before it contracts (`--no-contract`).
    pub no_contract: bool,
}

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// The release deployed (live, or held as the candidate).
    pub release: String,
    /// The release live before.
    pub previous: Option<String>,
    /// The release live now: `release`, or for a hold the one that stays live.
    pub live: Option<String>,
    /// The held candidate (`deploy --hold`), which only test traffic reaches.
    pub candidate: Option<String>,
    /// `deployed`, `held`, `staged` or `already-live`.
    pub outcome: &'static str,
    /// Files written from the artifact.
    pub files_written: u64,
    /// Files hard-linked from the previous release.
    pub files_linked: u64,
    /// Of the files the manifests call unchanged, those whose seal stamp
    /// did not hold, so they were read and hashed before being linked.
    pub files_rehashed: u64,
    /// Bytes written from the artifact.
    pub bytes_written: u64,
    /// Tests counted by the test gate.
    pub test_count: Option<u64>,
    /// Releases removed by the automatic prune.
    pub pruned: Vec<String>,
    /// Migrations run, pre-switch then post-switch.
    pub migrations: Vec<String>,
    /// PostgreSQL expand and contract: what was expanded or joined, the
    /// release's view schema, backfill counts and DDL retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expansion: Option<crate::expansion::ExpandReport>,
    /// The `[hooks]` that ran (`pre_switch`, `post_switch`), failed ones included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::HookRun>,
    /// Wall time.
    pub duration_ms: u64,
    /// The deployment notes shown before the switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<hoist_notes::Notes>,
}

/// Deploys `request.artifact` to the site in `context`. Recorded whatever
/// becomes of it: refused before it began (a lock held, an interrupted
/// operation pending), nothing to do, failed, switched back, or done.
pub fn deploy(
    context: &Context,
    request: &DeployRequest,
    reporter: &dyn Reporter,
) -> Result<DeployReport, DeployError> {
    let op = if request.hold {
        Op::Hold
    } else if request.stage_only {
        Op::Stage
    } else {
        Op::Deploy
    };
    let started = std::time::Instant::now();
    let mut attempt = Attempt::new(context, op, None, request.reason.clone());
    let result = deploy_as(context, request, op, reporter, &mut attempt);
    let result = attempt.settle(context, result, reporter);
    // A refusal (a lock held, a pending recovery) changed nothing: not a failure to tell of.
    let told = match &result {
        Ok(report) => report.outcome == "deployed",
        Err(_) => op == Op::Deploy && attempt.began(),
    };
    if told {
        // What it aimed at and started from, known even when it failed.
        let (target, from) = attempt.ends();
        let notice = crate::notice::Notice {
            release: target,
            previous: from,
            reason: request.reason.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            notes: request.notes.as_ref().map(hoist_notes::Notes::render),
        };
        crate::notice::tell(
            context,
            hoist_notify::Event::Deploy,
            &result,
            notice,
            reporter,
        );
    }
    result
}

fn deploy_as(
    context: &Context,
    request: &DeployRequest,
    op: Op,
    reporter: &dyn Reporter,
    attempt: &mut Attempt,
) -> Result<DeployReport, DeployError> {
    let started = std::time::Instant::now();
    context.refuse_if_pending()?;
    let limit = request.config.as_ref().map_or_else(
        || Deploy::default().max_release_size,
        |c| c.deploy.max_release_size,
    );
    let artifact = Artifact::open(&request.artifact, limit.as_u64())?;
    let id = artifact.manifest().release.to_string();
    attempt.aimed_at(&id);
    let lock = context.lock(&format!("deploy {id}"), reporter)?;
    context.refuse_if_pending()?;
    let live = context.site.live()?;
    attempt.started_from(live.as_deref());
    let mut report = DeployReport {
        release: id.clone(),
        previous: live.clone(),
        live: Some(id.clone()),
        candidate: None,
        outcome: "deployed",
        files_written: 0,
        files_linked: 0,
        files_rehashed: 0,
        bytes_written: 0,
        test_count: None,
        pruned: Vec::new(),
        migrations: Vec::new(),
        expansion: None,
        hooks: Vec::new(),
        duration_ms: 0,
        notes: request.notes.clone(),
    };
    if live.as_deref() == Some(id.as_str()) {
        same_content(context, &artifact, &id)?;
        let noop = format!("`{id}` is already live; nothing to do");
        reporter.step("noop", &noop);
        attempt.noop(context, &noop, reporter);
        report.outcome = "already-live";
        lock.release()?;
        return Ok(report);
    }

    // Read before staging records this release's count.
    let last_tests = context.ledger.last_test_count().ok().flatten();
    let mut journal = Journal::begin(&context.site, op, &id, live.clone(), request.reason.clone())?;
    attempt.journaled();
    let staged = stage(
        context,
        &mut journal,
        &artifact,
        request.config.as_ref(),
        live.as_deref(),
        reporter,
    )?;
    report.files_written = staged.stats.files_written;
    report.files_linked = staged.stats.files_linked;
    report.files_rehashed = staged.stats.files_rehashed;
    report.bytes_written = staged.stats.bytes_written;
    report.test_count = staged.tests;
    let adopted = match crate::site_settings::adopt(context, &id, request.config.as_ref(), reporter)
    {
        Ok(adopted) => adopted,
        Err(error) => {
            crate::stage::abandon(context, &mut journal, &error, reporter);
            return Err(error);
        }
    };
    // Code tied to data: never switch (or hold) onto data the release
    // refuses; with `--with-data` the data it names moves with the code.
    let data = match &request.with_data {
        Some(version) => {
            crate::data_tie::plan_deploy(context, &id, request.config.as_ref(), version, reporter)
                .map(Some)
        }
        None => {
            crate::data_tie::refuse_unsatisfied(context, &id, request.config.as_ref(), reporter)
                .map(|()| None)
        }
    };
    // The runtime the release meets here, against where it passed its tests.
    let data = data.and_then(|data| {
        crate::parity::check(context, &id, request.config.as_ref(), reporter).map(|()| data)
    });
    let data = match data {
        Ok(data) => data,
        Err(error) => {
            crate::stage::abandon(context, &mut journal, &error, reporter);
            return Err(error);
        }
    };
    // Never switch and then be unable to say so: the ledger must take a
    // write now. (The release stays on disk, ready, for a later deploy.)
    if let Err(error) = context.ledger.check_writable() {
        crate::activate::journal_done(context, &mut journal)?;
        lock.release()?;
        return Err(DeployError::LedgerUnwritable {
            problem: context
                .ledger_problem
                .clone()
                .unwrap_or_else(|| error.to_string()),
        });
    }
    if request.stage_only {
        let detail = summary(&report, last_tests);
        let event = crate::activate::event(journal.record(), Outcome::Ok, Some(detail));
        context.record(&Write::Event { event }, reporter);
        crate::activate::journal_done(context, &mut journal)?;
        adopted.keep();
        lock.release()?;
        report.outcome = "staged";
        report.live = live;
        report.duration_ms = started.elapsed().as_millis() as u64;
        return Ok(report);
    }
    // What expand and contract the release needs: refused here, before
    // anything changes, when its declarative migration cannot go ahead.
    let expansion = match expansion_for(context, &id, request) {
        Ok(expansion) => expansion,
        Err(error) => {
            crate::stage::abandon(context, &mut journal, &error, reporter);
            return Err(error);
        }
    };
    let plan = match plan(context, &id, request, staged.settings) {
        Ok(plan) => Plan {
            expansion,
            data,
            detail: Some(summary(&report, last_tests)),
            notes: request.notes.as_ref().map(hoist_notes::Notes::render),
            ..plan
        },
        Err(error) => {
            let problem = format!("cannot read `[database]`, nothing was switched: {error}");
            return Err(crate::activate::failed(
                context,
                &mut journal,
                &problem,
                true,
                reporter,
            ));
        }
    };
    if let Some(notes) = &request.notes {
        show_notes(notes, reporter);
    }
    let switched = switch::run(context, &mut journal, &plan, reporter)?;
    adopted.keep();
    report.migrations = switched.migrations;
    report.expansion = switched.expanded;
    report.hooks = switched.hooks;
    report.pruned = switched.pruned;
    if switched.held.is_some() {
        report.outcome = "held";
        report.live = live;
        report.candidate = Some(id);
    }
    lock.release()?;
    context.site.keep_reserve();
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The notes before the switch: a person reads them while it happens;
/// a schema change without a migration is a warning of its own.
fn show_notes(notes: &hoist_notes::Notes, reporter: &dyn Reporter) {
    let text = hoist_notes::Notes {
        warnings: Vec::new(),
        ..notes.clone()
    }
    .render();
    let range = format!("from `{}` to `{}`", notes.from.label, notes.to.label);
    reporter.step("notes", &format!("{range}\n{}", text.trim_end()));
    for warning in &notes.warnings {
        reporter.warn(warning);
    }
}

/// What the ledger's `detail` says of a deploy that went live or was held.
fn summary(report: &DeployReport, last_tests: Option<u64>) -> String {
    let fewer = match (report.test_count, last_tests) {
        (Some(count), Some(last)) if count < last => {
            format!(" (fewer than the {last} of the last deploy: `--allow-fewer-tests`)")
        }
        _ => String::new(),
    };
    let tests = report.test_count.map_or_else(String::new, |count| {
        format!(", {count} tests passed{fewer}")
    });
    if report.files_written == 0 && report.files_linked == 0 {
        return format!("already on disk, verified against its manifest{tests}");
    }
    format!(
        "{} files written, {} linked{tests}",
        report.files_written, report.files_linked
    )
}

/// The switch a deploy makes: expand, switch, contract, prune; or expand
/// and hold. A held candidate gets no pause (nothing users get changes)
/// and no contract or prune (that is for its promote).
fn plan(
    context: &Context,
    id: &str,
    request: &DeployRequest,
    settings: Deploy,
) -> Result<Plan, DeployError> {
    let schema = schema_for(context, id, request.config.as_ref())?;
    let keep = settings.keep_releases;
    Ok(Plan {
        pause: request.pause.filter(|_| !request.hold),
        schema: schema
            .clone()
            .map_or(SchemaChange::Keep, SchemaChange::Expand),
        hold: request.hold,
        post: schema.filter(|_| !request.hold),
        prune: (!request.hold).then_some(keep),
        detail: None,
        data: None,
        hooks: crate::hooks::of(context, id, request.config.as_ref())?,
        notes: None,
        expansion: None,
        abort_expansion: None,
        settings,
    })
}

/// The release's part in PostgreSQL expand and contract.
fn expansion_for(
    context: &Context,
    id: &str,
    request: &DeployRequest,
) -> Result<Option<crate::expansion::Expansion>, DeployError> {
    match schema_for(context, id, request.config.as_ref())? {
        Some(schema) => crate::expansion::plan(context, &schema, id, request.no_contract),
        None => Ok(None),
    }
}

/// The release's database and migrations, when its config has `[database]`.
pub(crate) fn schema_for(
    context: &Context,
    id: &str,
    config: Option<&Config>,
) -> Result<Option<crate::Schema>, DeployError> {
    let config = context.config_for(id, config)?;
    config
        .and_then(|config| config.database)
        .map(|database| crate::Schema::for_release(context, &database, id))
        .transpose()
}
