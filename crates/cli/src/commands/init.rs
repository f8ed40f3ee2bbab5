use crate::cli::Global;
use anyhow::{bail, Context};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write it.
    #[arg(default_value = hoist_config::FILE_NAME)]
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    if args.path.exists() && !args.force {
        bail!(
            "`{}` already exists; pass `--force` to overwrite it",
            args.path.display()
        );
    }
    std::fs::write(&args.path, hoist_config::TEMPLATE)
        .with_context(|| format!("cannot write `{}`", args.path.display()))?;
    eprintln!(
        "wrote `{}`; set `[app] name`, then run `hoist build`",
        args.path.display()
    );
    let result = serde_json::json!({ "wrote": args.path });
    crate::output::json_result(global.json, &result)?;
    Ok(crate::EXIT_OK)
}
