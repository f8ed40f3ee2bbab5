use crate::cli::Global;
use crate::output::{self, Output, Render};
use anyhow::{bail, Context};
use hoist_config::Config;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory for the artifact.
    #[arg(long, default_value = "dist", value_name = "DIR")]
    out: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct Built {
    pub release: String,
    pub artifact: PathBuf,
    pub files: usize,
    pub bytes: u64,
    pub digest: String,
}

impl Render for Built {
    fn human(&self, out: &mut String) {
        output::field(out, "release", &self.release);
        output::field(out, "artifact", self.artifact.display());
        output::field(out, "files", self.files);
        output::field(out, "size", output::bytes(self.bytes));
        output::field(out, "digest", &self.digest);
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let Some((config, path)) = crate::target::config(global)? else {
        bail!("no `hoist.toml` here; run `hoist init` or pass `--config FILE`");
    };
    let built = build(&config, &path, &args.out, global.quiet)?;
    Output::new(global.json).emit(&built)?;
    Ok(crate::EXIT_OK)
}

/// Runs `[build] command`, then packs the config's directory.
pub fn build(
    config: &Config,
    config_path: &Path,
    out: &Path,
    quiet: bool,
) -> anyhow::Result<Built> {
    let source = config_path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Some(command) = &config.build.command {
        if !quiet {
            eprintln!("hoist: build: {command}");
        }
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(source)
            .stdout(std::process::Stdio::inherit())
            .status()
            .with_context(|| format!("cannot run build command `{command}`"))?;
        if !status.success() {
            return Err(hoist_store::StoreError::BuildCommand {
                command: command.clone(),
                status: status.to_string(),
            }
            .into());
        }
    }
    let mut options = hoist_store::PackOptions::new(&config.app.name, source, &source.join(out));
    options.version = config.app.version.clone();
    options.include = config.build.include.clone();
    options.exclude = config.build.exclude.clone();
    let packed = hoist_store::pack(&options)?;
    Ok(Built {
        release: packed.manifest.release.to_string(),
        files: packed.manifest.file_count(),
        bytes: packed.manifest.total_bytes(),
        digest: packed.manifest.content_digest.clone(),
        artifact: packed.artifact,
    })
}
