use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::progress::Progress;
use hoist_deploy::RecoverReport;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Render for RecoverReport {
    fn human(&self, out: &mut String) {
        match &self.interrupted {
            None => out.push_str("nothing was interrupted\n"),
            Some(record) => {
                let done = match (&self.expansion, self.action) {
                    (_, "finished") => "finished it".to_owned(),
                    (_, "not-finished") => {
                        "not finished: it failed again (`recorded` says why); the interruption is cleared, run it again once the cause is fixed".to_owned()
                    }
                    (Some(expansion), _) => format!(
                        "{}; live release unchanged",
                        expansion.recovered(&record.release)
                    ),
                    (None, _) => "cleaned up; live release unchanged".to_owned(),
                };
                let line = format!(
                    "{} of `{}` stopped during `{}`: {done}",
                    record.op, record.release, record.step
                );
                output::field(out, "recovered", line);
            }
        }
        // What the finished `db complete` or `db abort` did, as it says it.
        if let Some(contracted) = &self.contracted {
            contracted.human(out);
        }
        if !self.migrations_undone.is_empty() {
            output::field(out, "undone", self.migrations_undone.join(", "));
        }
        if let Some(expansion) = &self.expansion {
            output::field(out, "db schema", expansion.summary());
        }
        if let Some(warning) = &self.warning {
            output::field(out, "WARNING", warning);
        }
        if !self.removed.is_empty() {
            output::field(out, "removed", self.removed.join(", "));
        }
        if !self.stopped.is_empty() {
            output::field(out, "stopped", self.stopped.join(", "));
        }
        for ran in &self.hooks {
            let line = format!("`{}` ({}) {}", ran.hook, ran.command, ran.status);
            output::field(out, "hook", line);
        }
        if let Some(repaired) = &self.ledger_repaired {
            output::field(out, "ledger", repaired);
        }
        if let Some(row) = &self.ledger {
            let detail = row.detail.as_deref().unwrap_or("");
            output::field(out, "recorded", format!("{}: {detail}", row.outcome));
        }
        output::field(out, "live", self.live.as_deref().unwrap_or("-"));
    }
}

pub fn exec(global: &Global, _args: Args) -> anyhow::Result<i32> {
    let (mut context, config) = crate::target::open(global)?;
    crate::target::attach_agent(&mut context);
    let report = hoist_deploy::recover(
        &mut context,
        config.as_ref(),
        &Progress::new(global.quiet || global.json),
    )?;
    Output::new(global.json).emit(&report)?;
    Ok(crate::EXIT_OK)
}
