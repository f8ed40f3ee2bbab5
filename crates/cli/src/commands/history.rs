//! `hoist history`: the ledger, newest first. `--json` is the reference
//! shape (`docs/history.md`): each row is an [`Event`] plus its `failure`.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_ledger::Event;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many events, newest first.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    /// Every host of this stage, their ledgers merged: one entry per fleet
    /// operation, and each host's own operations by host.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
}

/// One row of `hoist history --json`.
#[derive(Debug, Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    event: &'a Event,
    /// Why it did not do what was asked (`detail`, for any outcome but `ok`).
    failure: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn of(event: &'a Event) -> Row<'a> {
        Row {
            event,
            failure: event.failure(),
        }
    }
}

impl Render for [Row<'_>] {
    fn human(&self, out: &mut String) {
        for Row { event, failure } in self {
            let _ = write!(
                out,
                "{}  {:<8} {:<11} {} -> {}",
                output::time(Some(event.started_at)),
                event.op,
                event.outcome,
                event.from.as_deref().unwrap_or("-"),
                event.to.as_deref().unwrap_or("-"),
            );
            if let Some(candidate) = &event.candidate {
                let _ = write!(out, "  candidate {candidate}");
            }
            // A repair leaves what runs as it was: name what it repaired.
            if let (Some(release), "repair") = (&event.release, event.op.as_str()) {
                let label = if event.outcome == hoist_ledger::Outcome::Ok {
                    "repaired"
                } else {
                    "release"
                };
                let _ = write!(out, "  {label} {release}");
            }
            let _ = write!(
                out,
                "  by {}@{} ({} ms)",
                event.user, event.host, event.duration_ms
            );
            if let Some(reason) = &event.reason {
                let _ = write!(out, "  reason: {}", crate::output::one_line(reason));
            }
            out.push('\n');
            if !event.migrations.is_empty() {
                let _ = writeln!(out, "    migrations: {}", event.migrations.join(", "));
            }
            if let Some(notes) = &event.notes {
                let _ = writeln!(out, "    notes:");
                for line in notes.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
            if let Some(failure) = failure {
                let _ = writeln!(out, "    {}", failure.lines().next().unwrap_or_default());
            }
        }
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    if let Some(stage) = &args.stage {
        return super::stage::history::exec(global, stage, args.limit);
    }
    let (context, _) = crate::target::open_read_only(global)?;
    let events = context.ledger.events(args.limit)?;
    let rows: Vec<Row<'_>> = events.iter().map(Row::of).collect();
    Output::new(global.json).emit(rows.as_slice())?;
    Ok(crate::EXIT_OK)
}
