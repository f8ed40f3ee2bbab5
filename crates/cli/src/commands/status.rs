use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_agent::AgentStatus;
use hoist_deploy::Status;
use serde::Serialize;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "With --stage or --stages, every host is asked over ssh, in parallel; a host that\ncannot be reached is a row saying so. Exit 0 whenever an answer could be given,\ndrift or not (scripts read `drifting` in --json); non-zero only when it could not\n(no such stage, no hoist.toml).\n\nWith --html FILE, the same answer is written as a self-contained status page\n(what runs where, traffic, the last operations; for a stage one row per host,\ndrift highlighted), durably; `--html -` writes it to stdout.\n\nExamples:\n  hoist status\n  hoist status --html /var/www/status/index.html\n  hoist status --stage production --html stage.html\n  hoist status --json --html status.html   # reports the file and the page's model"
)]
pub struct Args {
    /// Every host of this stage (`[stages.NAME]` in hoist.toml): live and
    /// previous release, data, schema, agent, locks, interrupted operations,
    /// and drift from the stage's release.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
    /// Every stage side by side: the release each runs, and which runs a
    /// newer one than another.
    #[arg(long, conflicts_with = "stage")]
    stages: bool,
    /// Also write the status page (HTML) to FILE; `-` is stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "stages")]
    html: Option<std::path::PathBuf>,
}

/// The site's state plus, when an agent runs, what it is serving.
#[derive(Debug, Serialize)]
struct FullStatus {
    #[serde(flatten)]
    site: Status,
    /// The live release's version, from its manifest.
    live_version: Option<String>,
    /// The live release's git revision, from its manifest.
    live_revision: Option<String>,
    /// The live data version (`data/current`).
    data: Option<String>,
    /// Its `--label`, when it was given one.
    data_label: Option<String>,
    /// The database's schema, when the config has `[database]`.
    schema: Option<hoist_deploy::SchemaSummary>,
    /// Why the schema could not be read.
    schema_error: Option<String>,
    agent: Option<AgentStatus>,
    /// Maintenance by flag file (`maint on` without an agent, or `touch`).
    maintenance_flag: Option<crate::flag_file::FlagState>,
}

impl Render for Status {
    fn human(&self, out: &mut String) {
        output::field(out, "root", &self.root);
        output::field(
            out,
            "live",
            self.live.as_deref().unwrap_or("(nothing deployed)"),
        );
        output::field(out, "since", output::time(self.deployed_at));
        output::field(out, "by", self.deployed_by.as_deref().unwrap_or("-"));
        output::field(out, "previous", previous(self));
        if let Some(holder) = &self.locked_by {
            output::field(out, "running", holder);
        }
        if let Some(holder) = &self.fleet_locked_by {
            output::field(out, "fleet", format!("held by {holder}"));
        }
        if let Some(op) = &self.fleet_drained {
            output::field(
                out,
                "balancer",
                format!("drained (or being drained) by fleet operation `{op}`; the next `hoist deploy --stage` or `rollback --stage` puts it back once healthy"),
            );
        }
        if let Some(pending) = &self.pending {
            let what = format!(
                "{} of `{}` stopped during `{}`; run `hoist recover`",
                pending.op, pending.release, pending.step
            );
            output::field(out, "interrupted", what);
        }
        if let Some(event) = &self.last_event {
            let mut what = format!(
                "{} {} {} -> {}",
                event.op,
                event.outcome,
                event.from.as_deref().unwrap_or("-"),
                event.to.as_deref().unwrap_or("-"),
            );
            if let Some(candidate) = &event.candidate {
                what.push_str(&format!(" (candidate {candidate})"));
            }
            what.push_str(&format!(
                " by {} at {}",
                event.user,
                output::time(Some(event.finished_at))
            ));
            output::field(out, "last", what);
        }
        if let Some(problem) = &self.ledger_problem {
            output::field(
                out,
                "ledger",
                format!("unreadable ({problem}); `hoist recover` repairs it"),
            );
        }
        if self.notifications_waiting > 0 {
            output::field(
                out,
                "notify",
                format!(
                    "{} waiting in notify/ (retried in the background; `hoist notify-deliver --root {}` tries them now, notify/deliver.log says why they wait)",
                    output::plural(self.notifications_waiting, "message", "messages"),
                    self.root
                ),
            );
        }
    }
}

impl Render for FullStatus {
    fn human(&self, out: &mut String) {
        self.site.human(out);
        let data = match (&self.data, &self.data_label) {
            (Some(id), Some(label)) => format!("{label} ({id})"),
            (Some(id), None) => id.clone(),
            (None, _) => "-".to_owned(),
        };
        output::field(out, "data", data);
        if let Some(schema) = &self.schema {
            let mut line = match (&schema.version, &schema.name) {
                (Some(_), Some(name)) => name.clone(),
                _ => "empty".to_owned(),
            };
            if schema.pending > 0 {
                line.push_str(&format!(", {} pending", schema.pending));
            }
            if let Some(dirty) = &schema.dirty {
                line.push_str(&format!(", DIRTY: {dirty}"));
            }
            if schema.drift > 0 {
                line.push_str(&format!(", {} edited after applying", schema.drift));
            }
            output::field(out, "schema", format!("{line} on {}", schema.database));
        }
        if let Some(error) = &self.schema_error {
            output::field(out, "schema", format!("unreadable: {error}"));
        }
        if let Some(flag) = &self.maintenance_flag {
            output::field(out, "maintenance", flag.line());
        }
        let Some(agent) = &self.agent else {
            let socket = std::path::Path::new(&self.site.root).join("agent.sock");
            let line = if socket.exists() {
                // The socket outlived its agent: the site is not being served.
                "not running: `agent.sock` is left from an agent that stopped, so nothing serves the live release; start `hoist agent`"
            } else {
                "not running (file-level mode)"
            };
            output::field(out, "agent", line);
            return;
        };
        output::field(
            out,
            "agent",
            format!("pid {} on {}", agent.pid, agent.listen),
        );
        if let Some(live) = &agent.live {
            output::field(
                out,
                "serving",
                format!("{} (pid {}, port {})", live.release, live.pid, live.port),
            );
            output::field(out, "command", &live.command);
        }
        for warm in &agent.warm {
            output::field(
                out,
                "warm",
                format!("{} until {}", warm.release, output::time(warm.until)),
            );
        }
        output::field(out, "in flight", agent.in_flight);
        if let Some(candidate) = &agent.candidate {
            let share = if candidate.percent == 0 {
                "test traffic only".to_owned()
            } else {
                format!("{}% of clients", candidate.percent)
            };
            output::field(out, "candidate", format!("{} ({share})", candidate.release));
        }
        if let Some(pause) = &agent.pause {
            let line = if pause.remaining_ms == 0 {
                // Past `--max` the pause does not end by itself: it refuses.
                "its --max ran out: every request gets 503 until `hoist resume`".to_owned()
            } else {
                format!(
                    "{} requests held, {} s left; `hoist resume`",
                    pause.held,
                    pause.remaining_ms.div_ceil(1000)
                )
            };
            output::field(out, "paused", line);
        }
        if let Some(maintenance) = &agent.maintenance {
            let source = agent.maintenance_source.as_deref().unwrap_or("command");
            output::field(
                out,
                "maintenance",
                format!("on ({source}): {}", maintenance.message),
            );
        }
        for backend in &agent.backends {
            let state = match (backend.healthy, backend.draining) {
                (_, true) => "draining",
                (true, false) => "up",
                (false, false) => "DOWN",
            };
            let line = format!(
                "{} weight {} {state}, {} in flight, {} requests",
                backend.url, backend.weight, backend.in_flight, backend.requests
            );
            output::field(out, "backend", line);
        }
        if let Some(rollback) = &agent.last_auto_rollback {
            output::field(out, "auto rollback", rollback);
        }
        for stats in &agent.releases {
            let line = format!(
                "{}: {} requests, {} 5xx, p50 {} ms, p99 {} ms",
                stats["release"].as_str().unwrap_or("?"),
                stats["requests"],
                stats["errors_5xx"],
                stats["p50_ms"]
                    .as_f64()
                    .map_or("-".into(), |ms| format!("{ms:.1}")),
                stats["p99_ms"]
                    .as_f64()
                    .map_or("-".into(), |ms| format!("{ms:.1}")),
            );
            output::field(out, "traffic", line);
        }
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    if let Some(html) = &args.html {
        super::status_page::check_target(html, global.json)?;
    }
    if let Some(stage) = &args.stage {
        return super::stage::status::exec(global, stage, args.html.as_deref());
    }
    if args.stages {
        return super::stage::status::exec_all(global);
    }
    let (context, config) = crate::target::open_read_only(global)?;
    let site = hoist_deploy::status(&context)?;
    let manifest = site
        .live
        .as_deref()
        .and_then(|live| context.ledger.release(live).ok().flatten());
    let agent = hoist_agent::AgentClient::find(&context.site.socket_path())
        .and_then(|client| client.status().ok());
    let catalog = hoist_data::Catalog::open_existing(&context.site.data_dir()).ok();
    let data = catalog
        .as_ref()
        .and_then(|catalog| catalog.live().ok().flatten());
    let data_label = catalog
        .as_ref()
        .zip(data.as_deref())
        .and_then(|(catalog, id)| catalog.meta(id).ok()?.label);
    let has_database = |config: &hoist_config::Config| config.database.is_some();
    let live_config = match &site.live {
        Some(live) => context.config_for(live, None).ok().flatten(),
        None => None,
    };
    let (schema, schema_error) = if config.iter().chain(live_config.iter()).any(has_database) {
        let summary = crate::commands::db::schema(global, &context, config.as_ref(), None)
            .and_then(|schema| Ok(hoist_deploy::schema_summary(&schema)?));
        match summary {
            Ok(summary) => (Some(summary), None),
            Err(error) => (None, Some(format!("{error:#}"))),
        }
    } else {
        (None, None)
    };
    let flag = crate::flag_file::path(context.site.root(), config.as_ref());
    let full = FullStatus {
        live_version: manifest.as_ref().map(|row| row.version.clone()),
        live_revision: manifest.and_then(|row| row.revision),
        maintenance_flag: crate::flag_file::read(&flag),
        site,
        data,
        data_label,
        schema,
        schema_error,
        agent,
    };
    if let Some(html) = &args.html {
        let extras = super::status_page::extras(
            full.agent.as_ref(),
            full.schema.as_ref(),
            full.schema_error.as_deref(),
            full.maintenance_flag.as_ref(),
        );
        let page = hoist_page::site_page(context.site.root(), extras)?;
        let written = super::status_page::write(html, hoist_page::render(&page), page)?;
        return match written {
            Some(written) => Output::new(global.json).emit_then(&written, crate::EXIT_OK),
            None => Ok(crate::EXIT_OK),
        };
    }
    Output::new(global.json).emit(&full)?;
    Ok(crate::EXIT_OK)
}

/// Where a plain `hoist rollback` goes; when nowhere because the last
/// operation rolled back (its release is no rollback target), says so.
fn previous(status: &Status) -> String {
    if let Some(previous) = &status.previous {
        return previous.clone();
    }
    let rolled_back = status.last_event.as_ref().filter(|event| {
        matches!(event.op.as_str(), "rollback" | "auto-rollback")
            && event.outcome == hoist_ledger::Outcome::Ok
            && event.from != event.to
    });
    match rolled_back.and_then(|event| event.from.as_deref()) {
        Some(from) => format!(
            "- (nothing older to roll back to; `{from}` was rolled back from, `hoist rollback --to {from}` goes forward again)"
        ),
        None => "-".to_owned(),
    }
}
