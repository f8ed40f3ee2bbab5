use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::progress::Progress;
use hoist_deploy::PruneReport;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Releases to keep (default: `deploy.keep_releases`).
    #[arg(long)]
    keep: Option<usize>,
    /// Prune every host of this stage (`[stages.NAME]` in hoist.toml).
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
}

impl Render for PruneReport {
    fn human(&self, out: &mut String) {
        output::field(
            out,
            "removed",
            if self.removed.is_empty() {
                "-".to_owned()
            } else {
                self.removed.join(", ")
            },
        );
        output::field(out, "kept", self.kept.join(", "));
        for problem in &self.problems {
            output::field(out, "not removed", problem);
        }
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    if let Some(stage) = &args.stage {
        return super::stage::prune::exec(global, stage, args.keep);
    }
    let (context, config) = crate::target::open(global)?;
    // Without a hoist.toml: the live release's, with the site's `site.toml` over it.
    let config = match (config, context.site.live()?) {
        (Some(config), _) => Some(config),
        (None, Some(live)) => context.config_for(&live, None)?,
        (None, None) => None,
    };
    let keep = args
        .keep
        .or(config.map(|config| config.deploy.keep_releases))
        .unwrap_or(hoist_config::Deploy::default().keep_releases)
        .max(1);
    let report = hoist_deploy::prune(&context, keep, &Progress::new(global.quiet || global.json))?;
    Output::new(global.json).emit(&report)?;
    Ok(crate::EXIT_OK)
}
