use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::progress::Progress;
use hoist_deploy::RollbackReport;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist rollback --reason 'checkout broken'\n  hoist rollback --to 20261122T101500Z-1.4.2-a1b2c3d\n  hoist rollback --with-db             also undo migrations the older release predates\n  hoist rollback --with-db --pause 1m  hold requests up to a minute while they are undone\n  hoist rollback --with-data           also put back the data version the older release ran on\n  hoist rollback --force               go back even past a contracted schema change (the message names the migration that restores it)"
)]
pub struct Args {
    /// The release to go to (default: the previous one).
    #[arg(long, value_name = "ID")]
    to: Option<String>,
    /// Why, for the ledger.
    #[arg(long)]
    reason: Option<String>,
    /// Also undo the migrations the older release predates (after a backup),
    /// before the switch, while requests are held. Before a contract
    /// (PostgreSQL expand and contract), the route swaps back first, then
    /// the newer release is stopped and the open expansion removed.
    #[arg(long)]
    with_db: bool,
    /// Hold requests while the schema and the route change (needs an agent),
    /// for at most DURATION; `--with-db` holds them for 30s unless told.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "30s", value_parser = super::pause::parse_max)]
    pause: Option<std::time::Duration>,
    /// Also move `data/current` back to the data version the older release went live with.
    #[arg(long)]
    with_data: bool,
    /// Switch even to a release that predates a contracted declarative
    /// migration (PostgreSQL expand and contract): its code then meets a
    /// shape it does not know, until a new migration restores the old one.
    #[arg(long)]
    force: bool,
    /// Roll back every host of this stage together, in waves behind its
    /// balancer (`[stages.NAME]` in hoist.toml).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["with_db", "pause", "with_data"])]
    stage: Option<String>,
}

impl Render for RollbackReport {
    fn human(&self, out: &mut String) {
        output::field(out, "live", &self.release);
        if self.from.as_deref() == Some(self.release.as_str()) {
            // Nothing moved: there is no release it left to name.
            output::field(out, "noop", "already live; nothing to do");
        } else {
            // Not "previous": in `status` that names where the next rollback
            // goes, which is older than the release this one left.
            output::field(out, "from", self.from.as_deref().unwrap_or("-"));
        }
        if !self.predates.is_empty() {
            output::field(out, "predates", self.predates.join(", "));
        }
        if !self.db_rolled_back.is_empty() {
            output::field(out, "db undone", self.db_rolled_back.join(", "));
        }
        if let Some(aborted) = &self.expansion_aborted {
            let schemas = match aborted.dropped_schemas.as_slice() {
                [] => String::new(),
                dropped => format!(" (dropped {})", dropped.join(", ")),
            };
            output::field(
                out,
                "expansion",
                format!("`{}` removed{schemas}", aborted.name),
            );
        }
        output::hooks(out, &self.hooks);
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
    if let Some(stage) = &args.stage {
        return super::stage::rollback::exec(global, stage, args.to, args.reason);
    }
    let (mut context, config) = crate::target::open(global)?;
    crate::target::attach_agent(&mut context);
    let progress = Progress::new(global.quiet || global.json);
    let request = hoist_deploy::RollbackRequest {
        to: args.to,
        reason: args.reason,
        with_db: args.with_db,
        with_data: args.with_data,
        force: args.force,
        pause: args
            .pause
            .or((args.with_db || args.with_data).then_some(hoist_deploy::DEFAULT_PAUSE)),
    };
    let report = hoist_deploy::rollback(&context, &request, config.as_ref(), &progress)?;
    Output::new(global.json).emit(&report)?;
    Ok(crate::EXIT_OK)
}
