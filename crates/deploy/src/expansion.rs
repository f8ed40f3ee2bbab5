//! The declarative migration of a switch (expand and contract on
//! PostgreSQL): which of expand, join or neither a target needs, and
//! running it as journaled steps before the target starts.
//!
//! ```text
//!  target's pending migrations      open expansion        the switch does
//!  ---------------------------      --------------        ---------------
//!  ... 0006_x.toml (last pending)   none, or 0006         Step::Expand 0006
//!  ... 0006_x.toml (last pending)   0005, no old side     Step::Complete 0005, then Step::Expand 0006
//!                                   serving here
//!  ... 0006_x.toml (last pending)   0005, old side serves refused, naming them (or `--no-contract`)
//!  none declarative, has 0005       0005                  Step::Expand: join 0005's new side
//!  none declarative, lacks 0005     0005 / none           base schema (old side)
//! ```
//!
//! Whatever it does, the target's `search_path` is written to
//! `state/db-schema/<release>` before it starts, and the agent, the
//! restart command and the hooks give its processes `HOIST_DB_SCHEMA`
//! and `PGOPTIONS` from there ([`hoist_site::db_schema`]).

use crate::schema::Schema;
use crate::{Context, DeployError, Reporter};
use hoist_db::expand::{Backfill, ExpandEvent, ExpandStatus, ExpandStep, Expander, OpenExpansion};
use hoist_db::{Migration, Target};
use hoist_site::{Journal, Step};
use serde::Serialize;

/// The target's part in expand and contract.
#[derive(Debug, Clone)]
pub(crate) struct Expansion {
    /// The target's database and migrations.
    pub(crate) schema: Schema,
    /// What to do.
    pub(crate) action: Action,
}

/// What a switch does about expand and contract.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Expand the target's one pending declarative migration; first
    /// contract the open expansion `complete` names, when there is one.
    Expand {
        migration: Box<Migration>,
        complete: Option<String>,
    },
    /// Join the open expansion `open`'s new side: a view schema like theirs.
    Join { open: String },
    /// The plain base schema (no expansion open, or the target predates it).
    Base,
}

/// What a switch did about expand and contract, for the report and the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct ExpandReport {
    /// `expanded`, `joined` or `base`.
    pub action: &'static str,
    /// The declarative migration expanded or joined (`0005_rename_name`).
    pub migration: Option<String>,
    /// The schema the release's processes use first (`hoist_<release>`, or `public`).
    pub schema: String,
    /// The expansion contracted first, to make room for this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// It picked up an expansion a crash (or another host) left.
    pub resumed: bool,
    /// Each table's backfill.
    pub backfill: Vec<Backfill>,
    /// The longest backfill batch transaction, in milliseconds.
    pub longest_batch_ms: u64,
    /// DDL retries after a lock timeout (contract and expand).
    pub retries: u32,
}

impl ExpandReport {
    fn base(schema: &Schema) -> ExpandReport {
        ExpandReport {
            action: "base",
            migration: None,
            schema: schema.expand.base_schema.clone(),
            completed: None,
            resumed: false,
            backfill: Vec::new(),
            longest_batch_ms: 0,
            retries: 0,
        }
    }

    /// One line for the ledger's detail and the human report.
    pub fn summary(&self) -> String {
        let completed = self
            .completed
            .as_ref()
            .map(|name| format!("contracted `{name}`, then "))
            .unwrap_or_default();
        let Some(migration) = &self.migration else {
            return format!("{completed}runs on the base schema `{}`", self.schema);
        };
        let verb = match self.action {
            "joined" => "joined the expansion",
            _ if self.resumed => "expanded (resumed)",
            _ => "expanded",
        };
        let backfill: Vec<String> = self
            .backfill
            .iter()
            .map(|table| format!("{} {}/{}", table.table, table.done, table.total))
            .collect();
        let backfill = if backfill.is_empty() {
            String::new()
        } else {
            format!(", backfilled {}", backfill.join(", "))
        };
        format!(
            "{completed}{verb} `{migration}` (view schema `{}`{backfill}, {} DDL retries)",
            self.schema, self.retries
        )
    }
}

/// Decides the target's part: refuses a declarative migration that is
/// not the last pending one, a second one, one on SQLite, and a new
/// expansion while the open one's old side serves here (or, with
/// `no_contract`, at all).
pub(crate) fn plan(
    context: &Context,
    schema: &Schema,
    release: &str,
    no_contract: bool,
) -> Result<Option<Expansion>, DeployError> {
    let migrations = schema.migrations()?;
    let Target::Postgres(url) = &schema.target else {
        let Some(first) = migrations.iter().find(|m| m.is_declarative()) else {
            return Ok(None);
        };
        return Err(DeployError::DeclarativeNeedsPostgres {
            file: first.path.clone(),
            database: hoist_db::redact(&url(schema)),
        });
    };
    let status = {
        let mut driver = schema.target.open()?;
        hoist_db::status(driver.as_mut(), &migrations)?
    };
    let declarative: Vec<&Migration> = status
        .pending
        .iter()
        .filter_map(|pending| migrations.iter().find(|m| m.version == pending.version))
        .filter(|migration| migration.is_declarative())
        .collect();
    if declarative.len() > 1 {
        return Err(DeployError::DeclarativeTwice {
            names: declarative.iter().map(|m| m.name.clone()).collect(),
        });
    }
    let open = Expander::connect(url, schema.expand.clone())?
        .status()?
        .open;
    let action = match (declarative.first(), open) {
        (Some(next), open) => {
            let after: Vec<String> = status
                .pending
                .iter()
                .filter(|pending| pending.version > next.version)
                .map(|pending| pending.name.clone())
                .collect();
            if !after.is_empty() {
                return Err(DeployError::DeclarativeNotLast {
                    declarative: next.name.clone(),
                    after,
                });
            }
            let complete = match open {
                Some(open) if open.version != next.version => {
                    refuse_unless_contractable(context, &open, next, release, no_contract)?;
                    Some(open.name)
                }
                _ => None,
            };
            Action::Expand {
                migration: Box::new((*next).clone()),
                complete,
            }
        }
        (None, Some(open)) => match migrations.iter().find(|m| m.version == open.version) {
            // Stopped half-way (a crash, or a failed deploy): finish it first.
            Some(own) if open.step < ExpandStep::Expanded && own.is_declarative() => {
                Action::Expand {
                    migration: Box::new(own.clone()),
                    complete: None,
                }
            }
            Some(_) => Action::Join { open: open.name },
            None => Action::Base,
        },
        (None, _) => Action::Base,
    };
    Ok(Some(Expansion {
        schema: schema.clone(),
        action,
    }))
}

/// A new expansion needs the open one contracted: only when no release
/// on its old side serves on this host, and the deploy may contract.
fn refuse_unless_contractable(
    context: &Context,
    open: &OpenExpansion,
    next: &Migration,
    release: &str,
    no_contract: bool,
) -> Result<(), DeployError> {
    let refuse = |serving: Vec<String>| DeployError::ExpansionOpen {
        open: open.name.clone(),
        next: next.name.clone(),
        target: release.to_owned(),
        serving,
    };
    if no_contract {
        return Err(refuse(Vec::new()));
    }
    let old_side = old_side_serving(context, open)?;
    if !old_side.is_empty() {
        return Err(refuse(old_side));
    }
    Ok(())
}

/// The releases serving on this host that are on `open`'s old side
/// (they read the old shape): the agent's live, warm and held ones, or
/// without an agent the one `current` names.
fn old_side_serving(context: &Context, open: &OpenExpansion) -> Result<Vec<String>, DeployError> {
    let running = crate::contract::running(context)?;
    Ok(crate::contract::sides(context, open, running)
        .into_iter()
        .filter(|serving| serving.side == crate::contract::Side::Old)
        .map(|serving| serving.running.release)
        .collect())
}

impl Expansion {
    /// The declarative migration's version, when the switch expands one:
    /// the classic `pre` migrations stop below it.
    pub(crate) fn version(&self) -> Option<u64> {
        match &self.action {
            Action::Expand { migration, .. } => Some(migration.version),
            Action::Join { .. } | Action::Base => None,
        }
    }
}

/// Contracts the open expansion a new one needs out of the way, before
/// anything else of the target's migrations runs (they were written
/// against the contracted shape): `hoist db complete`'s work, journaled as
/// the deploy's step `complete`. Returns the report to go on with.
pub(crate) fn contract_first(
    context: &Context,
    journal: &mut Journal,
    expansion: &Expansion,
    reporter: &dyn Reporter,
) -> Result<Option<ExpandReport>, DeployError> {
    let Action::Expand {
        complete: Some(_), ..
    } = &expansion.action
    else {
        return Ok(None);
    };
    complete(context, journal, &expansion.schema, reporter).map(Some)
}

/// Contracts the open expansion (it checks again that no release on its
/// old side serves here), then every release uses the base schema.
fn complete(
    context: &Context,
    journal: &mut Journal,
    schema: &Schema,
    reporter: &dyn Reporter,
) -> Result<ExpandReport, DeployError> {
    let contracted = crate::contract::complete_in(context, schema, journal, reporter)?;
    let mut report = ExpandReport::base(schema);
    if let Some(finished) = contracted.finished {
        report.completed = Some(finished.name);
        report.retries = finished.retries;
    }
    Ok(report)
}

/// Runs `expansion` for the journal's target, after [`contract_first`]
/// (whose report it goes on with): the expand or join, then records the
/// target's `search_path`.
pub(crate) fn run(
    context: &Context,
    journal: &mut Journal,
    expansion: &Expansion,
    so_far: Option<ExpandReport>,
    reporter: &dyn Reporter,
) -> Result<ExpandReport, DeployError> {
    let release = journal.record().release.clone();
    let schema = &expansion.schema;
    let mut report = so_far.unwrap_or_else(|| ExpandReport::base(schema));
    let migration = match &expansion.action {
        Action::Base => {
            write_search_path(context, &release, schema, None)?;
            return Ok(report);
        }
        Action::Join { open } => {
            journal.step(Step::Expand)?;
            reporter.step(
                "expand",
                &format!("`{release}` joins the expansion `{open}`"),
            );
            let view = expander(schema)?.join(&release)?;
            report.action = "joined";
            report.migration = Some(open.clone());
            if let Some(view) = &view {
                report.schema = view.clone();
            }
            write_search_path(context, &release, schema, view.as_deref())?;
            return Ok(report);
        }
        Action::Expand { migration, .. } => migration,
    };
    journal.step(Step::Expand)?;
    let expanded = expand(schema, migration, &release, reporter)?;
    report.action = "expanded";
    report.migration = Some(expanded.name.clone());
    report.schema = expanded.schema.clone();
    report.resumed = expanded.resumed;
    report.backfill = expanded.backfill;
    report.longest_batch_ms = expanded.longest_batch_ms;
    report.retries += expanded.retries;
    write_search_path(context, &release, schema, Some(&report.schema))?;
    reporter.step("expand", &report.summary());
    Ok(report)
}

/// Expands `migration` for `release`, reporting each step and batch; a
/// crash test can kill hoist at each step (`HOIST_FAULT_KILL_AT=expand-<step>`).
pub(crate) fn expand(
    schema: &Schema,
    migration: &Migration,
    release: &str,
    reporter: &dyn Reporter,
) -> Result<hoist_db::expand::Expanded, DeployError> {
    reporter.step(
        "expand",
        &format!(
            "`{}` for `{release}` on {}",
            migration.name,
            hoist_db::redact(&url(schema))
        ),
    );
    let mut events = |event: ExpandEvent<'_>| on_event(event, reporter);
    Ok(expander(schema)?.expand(migration, release, &mut events)?)
}

/// What an expansion tells as it goes: its steps (each a fault point for
/// the crash tests), backfill progress, lock-timeout retries.
pub(crate) fn on_event(event: ExpandEvent<'_>, reporter: &dyn Reporter) {
    match event {
        ExpandEvent::Step(step) => {
            reporter.step("expand", step.as_str());
            crate::contract::fault_point(step);
        }
        ExpandEvent::Backfilled { done, total, .. } => reporter.advance(done, total),
        ExpandEvent::Retry { what, attempt } => reporter.warn(&format!(
            "{what}: gave up waiting for its lock (attempt {attempt}); trying again"
        )),
    }
}

/// The expander for `schema`'s database (PostgreSQL only: checked when planned).
pub(crate) fn expander(schema: &Schema) -> Result<Expander, DeployError> {
    Ok(Expander::connect(&url(schema), schema.expand.clone())?)
}

/// The open expansion and view schemas of `schema`'s database, or none
/// for a database that is not PostgreSQL.
pub(crate) fn status(schema: &Schema) -> Result<Option<ExpandStatus>, DeployError> {
    match &schema.target {
        Target::Postgres(_) => Ok(Some(expander(schema)?.status()?)),
        Target::Sqlite(_) => Ok(None),
    }
}

fn url(schema: &Schema) -> String {
    match &schema.target {
        Target::Postgres(url) => url.clone(),
        Target::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}

/// Records the `search_path` `release`'s processes start with: its view
/// schema in front of the base one, or the base one alone.
pub(crate) fn write_search_path(
    context: &Context,
    release: &str,
    schema: &Schema,
    view: Option<&str>,
) -> Result<(), DeployError> {
    let base = schema.expand.base_schema.clone();
    let path: Vec<String> = match view {
        Some(view) if view != base => vec![view.to_owned(), base],
        _ => vec![base],
    };
    hoist_site::write_db_schema(&context.site, release, &path)?;
    Ok(())
}

/// `hoist recover` after a kill during `complete` or `expand` (before the
/// switch): the same call runs again and finishes what the database says
/// it began, so the database is left in a state both sides run on; the
/// live release stays (the caller cleans the deploy up). Returns what it
/// finished, to report.
pub(crate) fn recover(
    context: &Context,
    journal: &mut Journal,
    config: Option<&hoist_config::Config>,
    reporter: &dyn Reporter,
) -> Result<Option<ExpandReport>, DeployError> {
    let record = journal.record().clone();
    let Some(schema) = crate::deploy::schema_for(context, &record.release, config)? else {
        return Ok(None);
    };
    if !matches!(schema.target, Target::Postgres(_)) {
        return Ok(None);
    }
    let mut report = ExpandReport::base(&schema);
    if record.step == Step::Complete {
        reporter.step("recover", "finishing the contract the deploy began");
        let report = complete(context, journal, &schema, reporter)?;
        return Ok(report.completed.is_some().then_some(report));
    }
    // As planned by the deploy, but never contracting: that was a step of its own.
    let Some(expansion) = plan(context, &schema, &record.release, true)? else {
        return Ok(None);
    };
    match &expansion.action {
        Action::Base => return Ok(None),
        Action::Join { open } => {
            let view = expander(&schema)?.join(&record.release)?;
            write_search_path(context, &record.release, &schema, view.as_deref())?;
            report.action = "joined";
            report.migration = Some(open.clone());
            report.schema = view.unwrap_or(report.schema);
        }
        Action::Expand { migration, .. } => {
            reporter.step(
                "recover",
                &format!("finishing the expansion of `{}`", migration.name),
            );
            let expanded = expand(&schema, migration, &record.release, reporter)?;
            write_search_path(context, &record.release, &schema, Some(&expanded.schema))?;
            report.action = "expanded";
            report.migration = Some(expanded.name);
            report.schema = expanded.schema;
            report.resumed = expanded.resumed;
            report.backfill = expanded.backfill;
            report.longest_batch_ms = expanded.longest_batch_ms;
            report.retries = expanded.retries;
        }
    }
    Ok(Some(report))
}
