//! `hoist restart`: the live release, started afresh without a failed request.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::progress::Progress;
use hoist_deploy::RestartReport;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist restart                      with an agent: a fresh process, swapped in once healthy\n  hoist restart --reason 'leaking memory'\n  hoist restart --stage production   every host, one wave at a time, drained at the balancer\n\nWithout an agent it runs `[deploy] restart` and waits for `[deploy] health`.\nWith --stage a failed host stops the restart; nothing is rolled back (the release did not change)."
)]
pub struct Args {
    /// Why, for the ledger.
    #[arg(long)]
    reason: Option<String>,
    /// Restart every host of this stage, in waves behind its balancer
    /// (`[stages.NAME]` in hoist.toml), e.g. after upgrading Perl or a library.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
}

impl Render for RestartReport {
    fn human(&self, out: &mut String) {
        output::field(out, "restarted", &self.release);
        output::field(out, "how", &self.how);
        output::field(out, "took", format!("{} ms", self.duration_ms));
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    if let Some(stage) = &args.stage {
        return super::stage::restart::exec(global, stage, args.reason);
    }
    let (mut context, config) = crate::target::open(global)?;
    crate::target::attach_agent(&mut context);
    let report = hoist_deploy::restart(
        &context,
        config.as_ref(),
        args.reason,
        &Progress::new(global.quiet || global.json),
    )?;
    Output::new(global.json).emit(&report)?;
    Ok(crate::EXIT_OK)
}
