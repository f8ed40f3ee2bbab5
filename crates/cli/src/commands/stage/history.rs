//! `hoist history --stage NAME [-n N]`: every host's ledger, merged by
//! fleet operation: one entry per fleet operation with each host's
//! outcome, and each host's own operations by host. The JSON shape is in
//! `docs/history.md`. Like `status --stage`, a host that cannot be read is
//! named, and the rest still answers (exit 0).

use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_fleet::{Entry, StageHistory};
use std::fmt::Write;

impl Render for StageHistory {
    fn human(&self, out: &mut String) {
        for entry in &self.entries {
            match entry {
                Entry::Fleet(fleet) => {
                    let _ = write!(
                        out,
                        "{}  {:<8} {:<8} {:<11} {}  {}  by {}",
                        output::time(Some(fleet.started_at)),
                        "fleet",
                        fleet.op,
                        fleet.outcome,
                        fleet.release.as_deref().unwrap_or("-"),
                        fleet.fleet_op,
                        fleet.user,
                    );
                    if let Some(reason) = &fleet.reason {
                        let _ = write!(out, "  reason: {reason}");
                    }
                    out.push('\n');
                    for host in &fleet.hosts {
                        let steps: Vec<String> = host
                            .rows
                            .iter()
                            .map(|row| format!("{} {}", row.event.op, row.event.outcome))
                            .collect();
                        let _ = writeln!(
                            out,
                            "    {:<12} {}; live {}",
                            host.host,
                            steps.join(", "),
                            host.live.as_deref().unwrap_or("-")
                        );
                        for row in &host.rows {
                            if let Some(failure) = &row.failure {
                                let line = failure.lines().next().unwrap_or_default();
                                let _ = writeln!(out, "      {}: {line}", row.event.op);
                            }
                        }
                    }
                    if !fleet.not_reached.is_empty() {
                        let _ = writeln!(
                            out,
                            "    not reached: {} (it stopped before it got to them)",
                            fleet.not_reached.join(", ")
                        );
                    }
                }
                Entry::Host(host) => {
                    let event = &host.row.event;
                    let _ = write!(
                        out,
                        "{}  {:<8} {:<8} {:<11} {} -> {}  by {}",
                        output::time(Some(event.started_at)),
                        host.host,
                        event.op,
                        event.outcome,
                        event.from.as_deref().unwrap_or("-"),
                        event.to.as_deref().unwrap_or("-"),
                        event.user,
                    );
                    if let Some(reason) = &event.reason {
                        let _ = write!(out, "  reason: {reason}");
                    }
                    out.push('\n');
                    if let Some(failure) = &host.row.failure {
                        let line = failure.lines().next().unwrap_or_default();
                        let _ = writeln!(out, "    {line}");
                    }
                }
            }
        }
        for host in &self.unanswered {
            let _ = writeln!(out, "! {}: {}", host.host, host.error.message);
        }
    }
}

/// `hoist history --stage NAME -n LIMIT`.
pub fn exec(global: &Global, name: &str, limit: usize) -> anyhow::Result<i32> {
    let named = super::named(global, name)?;
    let runtime = super::runtime()?;
    let history = runtime.block_on(hoist_fleet::history(
        &named.name,
        &named.stage,
        named.reach.clone(),
        limit,
    ));
    Output::new(global.json).emit_then(&history, crate::EXIT_OK)
}
