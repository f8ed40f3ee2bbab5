use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::progress::Progress;
use hoist_deploy::RollbackReport;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist rollback --reason 'checkout broken'\n  hoist rollback --to 20261122T101500Z-1.4.2-a1b2c3d\n  hoist rollback --with-db             also undo migrations the older release predates\n  hoist rollback --with-data           also put back the data version the older release ran on"
)]
pub struct Args {
    /// The release to go to (default: the previous one).
    #[arg(long, value_name = "ID")]
    to: Option<String>,
    /// Why, for the ledger.
    #[arg(long)]
    reason: Option<String>,
    /// Also undo the migrations the older release predates (after a backup).
    #[arg(long)]
    with_db: bool,
    /// Also move `data/current` back to the data version the older release went live with.
    #[arg(long)]
    with_data: bool,
}

impl Render for RollbackReport {
    fn human(&self, out: &mut String) {
        output::field(out, "live", &self.release);
        output::field(out, "rolled back", self.from.as_deref().unwrap_or("-"));
        if !self.predates.is_empty() {
            output::field(out, "predates", self.predates.join(", "));
        }
        if !self.db_rolled_back.is_empty() {
            output::field(out, "db undone", self.db_rolled_back.join(", "));
        }
        if let Some(backup) = &self.db_backup {
            output::field(out, "db backup", backup.display());
        }
        let data = &self.data;
        if let Some(with) = &data.with_target {
            let line = if data.reverted {
                format!(
                    "`{with}` again (was `{}`)",
                    data.live.as_deref().unwrap_or("-")
                )
            } else if data.live.as_ref() == Some(with) {
                format!("`{with}`, the one it went live with")
            } else {
                format!(
                    "`{}` stays live; it went live with `{with}` (`--with-data` goes back to it)",
                    data.live.as_deref().unwrap_or("-")
                )
            };
            output::field(out, "data", line);
        }
        output::field(out, "took", format!("{} ms", self.duration_ms));
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (mut context, config) = crate::target::open(global)?;
    crate::target::attach_agent(&mut context);
    let progress = Progress::new(global.quiet || global.json);
    let report = hoist_deploy::rollback(
        &context,
        args.to.as_deref(),
        config.as_ref(),
        args.reason,
        &progress,
        args.with_db,
        args.with_data,
    )?;
    Output::new(global.json).emit(&report)?;
    Ok(crate::EXIT_OK)
}
