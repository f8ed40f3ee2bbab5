use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_ledger::Event;
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many events, newest first.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
}

impl Render for [Event] {
    fn human(&self, out: &mut String) {
        for event in self {
            let _ = write!(
                out,
                "{}  {:<8} {:<11} {} -> {}  by {}@{} ({} ms)",
                output::time(Some(event.started_at)),
                event.op,
                event.outcome,
                event.from.as_deref().unwrap_or("-"),
                event.to.as_deref().unwrap_or("-"),
                event.user,
                event.host,
                event.duration_ms
            );
            if let Some(reason) = &event.reason {
                let _ = write!(out, "  reason: {reason}");
            }
            out.push('\n');
            if let Some(detail) = event
                .detail
                .as_deref()
                .filter(|_| event.outcome != hoist_ledger::Outcome::Ok)
            {
                let _ = writeln!(out, "    {}", detail.lines().next().unwrap_or_default());
            }
        }
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open_read_only(global)?;
    let events = context.ledger.events(args.limit)?;
    Output::new(global.json).emit(events.as_slice())?;
    Ok(crate::EXIT_OK)
}
