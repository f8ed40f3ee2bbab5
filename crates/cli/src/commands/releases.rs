use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_deploy::ReleaseInfo;
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Render for [ReleaseInfo] {
    fn human(&self, out: &mut String) {
        if self.is_empty() {
            out.push_str("no releases on disk\n");
            return;
        }
        let _ = writeln!(
            out,
            "{:<40} {:<12} {:<24} {:>10}",
            "RELEASE", "STATE", "DEPLOYED", "ON DISK"
        );
        for release in self {
            let _ = writeln!(
                out,
                "{:<40} {:<12} {:<24} {:>10}",
                release.id,
                release.state,
                output::time(release.deployed_at),
                output::bytes(release.disk_bytes)
            );
        }
    }
}

pub fn exec(global: &Global, _args: Args) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open_read_only(global)?;
    let releases = hoist_deploy::releases(&context)?;
    Output::new(global.json).emit(releases.as_slice())?;
    Ok(crate::EXIT_OK)
}
