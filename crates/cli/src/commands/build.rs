use crate::cli::Global;
use crate::output::{self, Output, Render};
use anyhow::Context;
use hoist_config::Config;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory for the artifact.
    #[arg(long, default_value = "dist", value_name = "DIR")]
    out: PathBuf,
    /// Make the artifact from a tarball built by another tool (`dzil`,
    /// `npm pack`, `git archive`: .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz,
    /// .tar.zst) instead of the current directory.
    #[arg(long, value_name = "FILE")]
    from_tarball: Option<PathBuf>,
    /// With `--from-tarball`: leading directories to drop from its paths,
    /// like `tar --strip-components` (1 for `DDGC-0.940/...`).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "from_tarball")]
    strip_components: usize,
    /// With `--from-tarball`: the version, instead of the one read from
    /// its `NAME-VERSION` directory, file name, `META.json` or `package.json`.
    #[arg(long, value_name = "VERSION", requires = "from_tarball")]
    version: Option<String>,
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
    if let Some(tarball) = args.from_tarball {
        let config = crate::target::config(global)?.map(|(config, _)| config);
        let options = hoist_store::ImportOptions {
            tarball,
            strip_components: args.strip_components,
            app: config.as_ref().map(|config| config.app.name.clone()),
            version: args.version,
            out_dir: args.out,
            max_bytes: config
                .map_or(hoist_config::Deploy::default(), |config| config.deploy)
                .max_release_size
                .as_u64(),
        };
        let imported = hoist_store::import(&options)?;
        for warning in &imported.warnings {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr().lock(), "warning: {warning}");
        }
        let built = Built::from(imported.packed);
        Output::new(global.json).emit(&built)?;
        return Ok(crate::EXIT_OK);
    }
    let Some((config, _)) = crate::target::config(global)? else {
        let message = "no `hoist.toml` here; write one, or pass `--config FILE`";
        return Err(crate::Failure::new("no-config", message)
            .hint("hoist init")
            .into());
    };
    let built = build(&config, Path::new("."), &args.out, global.quiet)?;
    Output::new(global.json).emit(&built)?;
    Ok(crate::EXIT_OK)
}

impl From<hoist_store::Packed> for Built {
    fn from(packed: hoist_store::Packed) -> Built {
        Built {
            release: packed.manifest.release.to_string(),
            files: packed.manifest.file_count(),
            bytes: packed.manifest.total_bytes(),
            digest: packed.manifest.content_digest.clone(),
            artifact: packed.artifact,
        }
    }
}

/// Runs `[build] command`, then packs `source`: the project is the
/// directory hoist runs in, wherever `--config` points (a config kept
/// elsewhere, `-c ../prod.toml`, must not make hoist pack that directory).
pub fn build(config: &Config, source: &Path, out: &Path, quiet: bool) -> anyhow::Result<Built> {
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
    check_migrations(config, source)?;
    let mut options = hoist_store::PackOptions::new(&config.app.name, source, &source.join(out));
    options.version = config.app.version.clone();
    options.include = config.build.include.clone();
    options.exclude = config.build.exclude.clone();
    Ok(Built::from(hoist_store::pack(&options)?))
}

/// Loads the migrations as a deploy will (a malformed or invalid `.toml`
/// migration, a missing `down`, two files with one number): found here it
/// is named by its source file, not after a deploy copied, unpacked and
/// sealed a release that cannot go live.
fn check_migrations(config: &Config, source: &Path) -> anyhow::Result<()> {
    let Some(database) = &config.database else {
        return Ok(());
    };
    // Named as the user wrote it (`migrations/0002_x.toml`), not `./migrations/...`.
    let dir = match source == Path::new(".") {
        true => Path::new(&database.migrations).to_owned(),
        false => source.join(&database.migrations),
    };
    hoist_db::load(&dir)?;
    Ok(())
}
