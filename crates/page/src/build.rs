//! Builds a [`SitePage`] from a site root: its status, its ledger and its
//! data catalog, plus what only the caller knows ([`Extras`]: the agent's
//! view of what it serves, the database schema).
//!
//! It only reads (the site is opened read-only), so the agent can call it
//! on every request for the page while an operation runs.

use crate::model::{
    AgentLine, DataView, MaintenanceView, Operation, ReleaseView, Role, SchemaLine, SitePage,
    Traffic,
};
use crate::PageError;
use hoist_deploy::{Context, Status};
use hoist_ledger::Event;
use jiff::Timestamp;
use std::path::Path;

/// How many ledger rows a page shows unless told otherwise.
pub const OPERATIONS: usize = 20;

/// What the page shows that the site's files cannot say.
#[derive(Debug, Clone)]
pub struct Extras {
    /// What the agent serves, when one runs.
    pub agent: Option<Serving>,
    /// The schema, when the caller read it (it needs the database's
    /// credentials and a connection, which the page does not open).
    pub schema: SchemaLine,
    /// Maintenance by flag file (no agent); the agent's own wins.
    pub maintenance: Option<MaintenanceView>,
    /// How many ledger rows to show.
    pub operations: usize,
    /// What made the page (`<meta name="generator">`).
    pub generator: String,
}

impl Default for Extras {
    fn default() -> Extras {
        Extras {
            agent: None,
            schema: SchemaLine::NotRead,
            maintenance: None,
            operations: OPERATIONS,
            generator: format!("hoist {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// What an agent serves: the part of its status the page shows.
#[derive(Debug, Clone, Default)]
pub struct Serving {
    /// The agent's pid.
    pub pid: u32,
    /// Its public listener.
    pub listen: String,
    /// Requests in flight across all releases.
    pub in_flight: u64,
    /// The release its live process runs.
    pub live: Option<String>,
    /// Releases kept warm, and when each is stopped.
    pub warm: Vec<(String, Option<Timestamp>)>,
    /// A held candidate and its share of clients (0: test traffic only).
    pub candidate: Option<(String, u8)>,
    /// Maintenance in force.
    pub maintenance: Option<MaintenanceView>,
    /// Per-release counters.
    pub traffic: Vec<Traffic>,
}

/// The page of the site at `root`, now.
///
/// ```no_run
/// let page = hoist_page::site_page(std::path::Path::new("/srv/shop"), hoist_page::Extras::default())?;
/// let html = hoist_page::render(&page);
/// assert!(html.contains(r#"id="live-release""#));
/// # Ok::<(), hoist_page::PageError>(())
/// ```
pub fn site_page(root: &Path, extras: Extras) -> Result<SitePage, PageError> {
    let wrap = |source| PageError::Site {
        root: root.to_owned(),
        source: Box::new(source),
    };
    let context = Context::open_read_only(root).map_err(wrap)?;
    let status = hoist_deploy::status(&context).map_err(wrap)?;
    let events = context
        .ledger
        .events(extras.operations.max(OPERATIONS))
        .unwrap_or_default();
    let agent = extras.agent.as_ref();
    let maintenance = agent
        .and_then(|agent| agent.maintenance.clone())
        .or(extras.maintenance);
    Ok(SitePage {
        generator: extras.generator,
        generated_at: Timestamp::now(),
        root: status.root.clone(),
        host: hoist_site::host_name(),
        releases: releases(&context, &status, agent, &events),
        data: data(&context),
        schema: extras.schema,
        maintenance,
        agent: agent.map(|agent| AgentLine {
            pid: agent.pid,
            listen: agent.listen.clone(),
            in_flight: agent.in_flight,
        }),
        traffic: agent.map(|agent| agent.traffic.clone()).unwrap_or_default(),
        operations: events
            .iter()
            .take(extras.operations)
            .map(operation)
            .collect(),
        problems: problems(&status),
    })
}

/// Live, candidate, warm and previous, each once, in that order.
fn releases(
    context: &Context,
    status: &Status,
    agent: Option<&Serving>,
    events: &[Event],
) -> Vec<ReleaseView> {
    // The agent's live process is what serves; the `current` link says the
    // same unless an operation is between the two.
    let live = agent
        .and_then(|agent| agent.live.clone())
        .or_else(|| status.live.clone());
    let mut wanted: Vec<(String, Role, Option<Timestamp>, Option<u8>)> = Vec::new();
    wanted.extend(live.map(|id| (id, Role::Live, None, None)));
    if let Some((id, percent)) = agent.and_then(|agent| agent.candidate.clone()) {
        wanted.push((id, Role::Candidate, None, Some(percent)));
    }
    for (id, until) in agent.map(|agent| agent.warm.clone()).unwrap_or_default() {
        wanted.push((id, Role::Warm, until, None));
    }
    wanted.extend(
        status
            .previous
            .clone()
            .map(|id| (id, Role::Previous, None, None)),
    );
    let mut views: Vec<ReleaseView> = Vec::new();
    for (id, role, until, percent) in wanted {
        if views.iter().any(|view| view.id == id) {
            continue;
        }
        views.push(release(context, id, role, until, percent, events));
    }
    views
}

fn release(
    context: &Context,
    id: String,
    role: Role,
    until: Option<Timestamp>,
    percent: Option<u8>,
    events: &[Event],
) -> ReleaseView {
    let row = context.ledger.release(&id).ok().flatten();
    // Who and why: the operation that last made it live, or for a
    // candidate the one that held it.
    let made_live = context.ledger.last_switch_to(&id).ok().flatten();
    let held = || {
        events
            .iter()
            .find(|event| event.candidate.as_deref() == Some(id.as_str()))
            .cloned()
    };
    let by = match role {
        Role::Candidate => held().or(made_live),
        _ => made_live,
    };
    ReleaseView {
        version: row.as_ref().map(|row| row.version.clone()),
        revision: row.as_ref().and_then(|row| row.revision.clone()),
        built_at: row.as_ref().map(|row| row.created_at),
        deployed_at: row.as_ref().and_then(|row| row.deployed_at),
        deployed_by: by
            .as_ref()
            .map(|event| event.user.clone())
            .or_else(|| row.and_then(|row| row.deployed_by)),
        reason: by.and_then(|event| event.reason),
        id,
        role,
        until,
        percent,
    }
}

fn data(context: &Context) -> Option<DataView> {
    let catalog = hoist_data::Catalog::open_existing(&context.site.data_dir()).ok()?;
    let version = catalog.live().ok().flatten()?;
    let label = catalog.meta(&version).ok().and_then(|meta| meta.label);
    Some(DataView { version, label })
}

fn operation(event: &Event) -> Operation {
    Operation {
        op: event.op.clone(),
        outcome: event.outcome.as_str().to_owned(),
        from: event.from.clone(),
        to: event.to.clone(),
        user: event.user.clone(),
        reason: event.reason.clone(),
        failure: event.failure().map(str::to_owned),
        finished_at: event.finished_at,
        duration_ms: event.duration_ms,
    }
}

/// What needs a person, each with the command out of it (the same words
/// `hoist status` uses).
fn problems(status: &Status) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(pending) = &status.pending {
        problems.push(format!(
            "{} of `{}` stopped during `{}`; run `hoist recover`",
            pending.op, pending.release, pending.step
        ));
    }
    if let Some(holder) = &status.locked_by {
        problems.push(format!("an operation is running: {holder}"));
    }
    if let Some(holder) = &status.fleet_locked_by {
        problems.push(format!("fleet lock held by {holder}"));
    }
    if let Some(op) = &status.fleet_drained {
        problems.push(format!(
            "drained at the balancer by fleet operation `{op}`; the next `hoist deploy --stage` or `rollback --stage` puts it back once healthy"
        ));
    }
    if let Some(problem) = &status.ledger_problem {
        problems.push(format!(
            "the ledger is unreadable ({problem}); `hoist recover` repairs it"
        ));
    }
    problems
}
