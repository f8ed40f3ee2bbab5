//! `hoist notify-deliver --root ROOT` (hidden): delivers the site's
//! spooled notifications; started detached by deploys and rollbacks.

use crate::cli::Global;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The site whose `notify/` spool to deliver.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
}

pub fn exec(_global: &Global, args: Args) -> anyhow::Result<i32> {
    let (_, failed) = hoist_notify::deliver::run(&args.root);
    Ok(if failed == 0 {
        crate::EXIT_OK
    } else {
        crate::EXIT_FAILURE
    })
}
