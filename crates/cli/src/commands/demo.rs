//! `hoist demo`: the whole file-level lifecycle on a temporary site.

use crate::cli::Global;
use crate::output::Output;
use crate::progress::Progress;
use anyhow::Context as _;
use hoist_deploy::{Context, DeployRequest};
use std::path::{Path, PathBuf};

/// The example app, embedded so the demo needs nothing but this binary.
const EXAMPLE: &[(&str, &str)] = &[
    ("hoist.toml", include_str!("../../example/hoist.toml")),
    (
        "public/index.html",
        include_str!("../../example/public/index.html"),
    ),
    ("t/run.sh", include_str!("../../example/t/run.sh")),
    ("bin/restart", include_str!("../../example/bin/restart")),
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the demo site in DIR instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let base = args.dir.unwrap_or_else(|| temp.path().to_owned());
    let (source, root) = (base.join("src"), base.join("site"));
    let progress = Progress::new(global.quiet || global.json);
    let say = |line: &str| {
        if !global.quiet && !global.json {
            eprintln!("\n== {line}");
        }
    };
    let context = Context::create(&root)?;

    say("deploy v1.0.0 of the example app");
    let v1 = build_version(&source, "1.0.0")?;
    hoist_deploy::deploy(&context, &request(v1.clone()), &progress)?;

    say("deploy v1.1.0: unchanged files are hard-linked, not written again");
    let v2 = build_version(&source, "1.1.0")?;
    let second = hoist_deploy::deploy(&context, &request(v2), &progress)?;
    say(&format!(
        "{} files written, {} linked",
        second.files_written, second.files_linked
    ));

    say("roll back to v1.0.0 in one step");
    hoist_deploy::rollback(&context, None, None, Some("demo".into()), &progress)?;

    say(&format!("state of `{}`", root.display()));
    let output = Output::new(global.json);
    output.emit(&hoist_deploy::status(&context)?)?;
    if !global.json {
        output.emit(hoist_deploy::releases(&context)?.as_slice())?;
        output.emit(context.ledger.events(10)?.as_slice())?;
    }
    Ok(crate::EXIT_OK)
}

fn request(artifact: PathBuf) -> DeployRequest {
    DeployRequest {
        artifact,
        config: None,
        reason: Some("hoist demo".into()),
    }
}

/// Writes the example app at `version` and builds it.
fn build_version(source: &Path, version: &str) -> anyhow::Result<PathBuf> {
    for (path, text) in EXAMPLE {
        let file = source.join(path);
        std::fs::create_dir_all(file.parent().expect("example paths have parents"))?;
        std::fs::write(&file, text.replace("{{VERSION}}", version))?;
    }
    let config_path = source.join(hoist_config::FILE_NAME);
    let config = hoist_config::Config::load(&config_path)?;
    Ok(super::build::build(&config, &config_path, "dist".as_ref(), true)?.artifact)
}
