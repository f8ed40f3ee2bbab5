//! `hoist setup --stage NAME`: this very hoist on every host of a stage,
//! and the site created there.

use crate::cli::Global;
use crate::fleet_progress::FleetProgress;
use crate::output::{self, Output, Render};
use hoist_fleet::SetUp;
use serde::Serialize;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist setup --stage staging        install this hoist on every staging host, create the site\n\nA deploy refuses a host whose hoist differs from this machine's; this fixes it."
)]
pub struct Args {
    /// The stage (`[stages.NAME]` in hoist.toml).
    #[arg(long, value_name = "NAME")]
    stage: String,
}

#[derive(Debug, Serialize)]
struct Report {
    stage: String,
    hoist: String,
    hosts: Vec<SetUp>,
}

impl Render for Report {
    fn human(&self, out: &mut String) {
        output::field(out, "stage", &self.stage);
        output::field(out, "hoist", &self.hoist);
        for host in &self.hosts {
            let what = if host.installed {
                format!("installed (was {}), site {}", host.before, host.root)
            } else {
                format!("already current, site {}", host.root)
            };
            output::field(out, &host.host, what);
        }
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let named = super::stage::named(global, &args.stage)?;
    let ours = super::stage::ours()?;
    let exe = std::env::current_exe()?;
    let runtime = super::stage::runtime()?;
    let progress = FleetProgress::new(&named.stage.hosts, global.quiet || global.json);
    let hosts = runtime.block_on(hoist_fleet::setup(
        &named.stage,
        named.reach.clone(),
        &exe,
        &ours,
        &progress,
    ))?;
    drop(progress);
    Output::new(global.json).emit(&Report {
        stage: named.name,
        hoist: ours.to_string(),
        hosts,
    })?;
    Ok(crate::EXIT_OK)
}
