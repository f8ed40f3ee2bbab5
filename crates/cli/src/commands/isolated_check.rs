//! `hoist isolated-check RELEASE SCRATCH COMMAND` (hidden): what a deploy
//! runs each check and the test through, so that they see the release
//! under an overlay in a private mount namespace and cannot write a
//! shipped file (see `hoist_deploy`'s `isolate`). Not for people.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The release being staged.
    release: PathBuf,
    /// Its scratch dir, holding `upper/` and `work/`.
    scratch: PathBuf,
    /// The check, run with `sh -c`.
    command: String,
}

pub fn exec(args: Args) -> anyhow::Result<i32> {
    // Returns only when the overlay or the exec failed: the deploy then
    // runs the command without isolation, and says so.
    let error = hoist_deploy::enter_isolation(&args.release, &args.scratch, &args.command);
    eprintln!("{error}");
    Ok(crate::EXIT_FAILURE)
}
