//! `hoist data ...`: versioned data sets beside the code.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_data::{DataPruneReport, DataStore, LoadReport, LoadRequest, VersionInfo};
use hoist_deploy::{DataRollReport, DataRollRequest, Reporter};
use hoist_site::Op;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  hoist data load /var/spool/catz/catalog.db --label nightly --check './bin/check-catalog'
  hoist data roll                      make the newest loaded version live
  hoist data roll nightly              the newest version labelled `nightly` (or an id prefix)
  hoist data revert                    back to the version live before
  hoist data list --json
  hoist data prune --keep 3
  hoist data pull --from /srv/shop     production's live data into this (dev) site
  hoist data load --stage production catalog.db   one version, one id, on every host
  hoist data roll --stage production   every host's data live together, or none")]
pub struct Args {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DataCommand {
    /// Copy a file or directory in as a new, verified, read-only version
    Load {
        /// The file or directory.
        source: PathBuf,
        /// A note for `data list` and the ledger.
        #[arg(long)]
        label: Option<String>,
        /// A command run in the new version (`$HOIST_DATA`); non-zero refuses it.
        #[arg(long, value_name = "CMD")]
        check: Option<String>,
        /// Every host of this stage (`[stages.NAME]` in hoist.toml), together.
        #[arg(long, value_name = "NAME")]
        stage: Option<String>,
    },
    /// Make the newest loaded version (or VERSION) live, atomically
    Roll {
        /// A version id (or a unique prefix of one, or a label) from `hoist data list`.
        #[arg(value_name = "VERSION")]
        id: Option<String>,
        /// Why, for the ledger.
        #[arg(long)]
        reason: Option<String>,
        /// Roll even onto data the live release's `[data] requires` refuses.
        #[arg(long)]
        force: bool,
        /// Every host of this stage (`[stages.NAME]` in hoist.toml), together.
        #[arg(long, value_name = "NAME")]
        stage: Option<String>,
    },
    /// Go back to the version live before (or `--to V`)
    Revert {
        /// A version id (or a unique prefix of one, or a label).
        #[arg(long, value_name = "V")]
        to: Option<String>,
        /// Why, for the ledger.
        #[arg(long)]
        reason: Option<String>,
        /// Revert even onto data the live release's `[data] requires` refuses.
        #[arg(long)]
        force: bool,
        /// Every host of this stage (`[stages.NAME]` in hoist.toml), together.
        #[arg(long, value_name = "NAME")]
        stage: Option<String>,
    },
    /// Loaded versions, newest last
    List,
    /// Remove old versions; never the live or previous one
    Prune {
        /// How many to keep (default: `[data] keep`).
        #[arg(long)]
        keep: Option<usize>,
    },
    /// Copy another site's live version in, verified (prod -> dev)
    Pull {
        /// The other site's root.
        #[arg(long, value_name = "ROOT")]
        from: PathBuf,
    },
}

impl Render for LoadReport {
    fn human(&self, out: &mut String) {
        output::field(out, "version", &self.version);
        if self.already_loaded {
            output::field(
                out,
                "note",
                "identical to a version loaded this same millisecond",
            );
        }
        output::field(
            out,
            "files",
            format!("{} ({})", self.files, output::bytes(self.bytes)),
        );
        output::field(
            out,
            "written",
            format!(
                "{} files, {}; {} unchanged files linked",
                self.files_written,
                output::bytes(self.bytes_written),
                self.files_linked
            ),
        );
        if !self.sqlite_checked.is_empty() {
            output::field(
                out,
                "integrity",
                format!("ok: {}", self.sqlite_checked.join(", ")),
            );
        }
        output::field(out, "took", format!("{} ms", self.duration_ms));
        output::field(out, "next", "`hoist data roll` makes it live");
    }
}

impl Render for DataRollReport {
    fn human(&self, out: &mut String) {
        output::field(out, "live", &self.roll.version);
        output::field(out, "before", self.roll.from.as_deref().unwrap_or("-"));
        output::field(out, "path", self.roll.path.display());
        output::field(out, "reload", &self.reload);
        output::hooks(out, &self.hooks);
    }
}

impl Render for [VersionInfo] {
    fn human(&self, out: &mut String) {
        if self.is_empty() {
            out.push_str("no data versions; load one with `hoist data load SRC`\n");
            return;
        }
        let _ = writeln!(
            out,
            "{:<36} {:<9} {:<24} {:>10}  LABEL",
            "VERSION", "STATE", "LOADED", "SIZE"
        );
        for version in self {
            let state = match (version.live, version.previous) {
                (true, _) => "live",
                (_, true) => "previous",
                _ => "",
            };
            let _ = writeln!(
                out,
                "{:<36} {:<9} {:<24} {:>10}  {}",
                version.id,
                state,
                output::time(Some(version.created)),
                output::bytes(version.bytes),
                version.label.as_deref().unwrap_or("")
            );
        }
    }
}

impl Render for DataPruneReport {
    fn human(&self, out: &mut String) {
        let removed = if self.removed.is_empty() {
            "nothing".to_owned()
        } else {
            self.removed.join(", ")
        };
        output::field(out, "removed", removed);
        output::field(out, "kept", self.kept.len());
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let out = Output::new(global.json);
    let progress = crate::progress::Progress::new(global.quiet || global.json);
    let mut advance = |done, total| progress.advance(done, total);
    let revert = matches!(args.command, DataCommand::Revert { .. });
    let (op, version, reason, force) = match args.command {
        DataCommand::Load {
            source,
            label,
            check,
            stage: Some(stage),
        } => {
            let request = hoist_fleet::DataLoad {
                source,
                label,
                check,
            };
            return super::stage::data::load(global, &stage, request);
        }
        DataCommand::Roll {
            id: version,
            reason,
            force,
            stage: Some(stage),
        }
        | DataCommand::Revert {
            to: version,
            reason,
            force,
            stage: Some(stage),
        } => {
            let request = hoist_fleet::DataRoll {
                how: super::stage::data::how(revert),
                version,
                reason,
                force,
            };
            return super::stage::data::roll(global, &stage, request);
        }
        // Loading needs no release: a fresh site loads its data before its first deploy.
        DataCommand::Load {
            source,
            label,
            check,
            stage: None,
        } => {
            let context = create(global)?;
            let store = DataStore::open(&context.site, &context.ledger)?;
            progress.step("load", &format!("{} -> data/versions/", source.display()));
            let request = LoadRequest {
                source,
                label,
                check,
            };
            out.emit(&store.load(&request, &mut advance)?)?;
            return Ok(crate::EXIT_OK);
        }
        DataCommand::Pull { from } => {
            let context = create(global)?;
            let store = DataStore::open(&context.site, &context.ledger)?;
            progress.step(
                "pull",
                &format!("the live data version of `{}`", from.display()),
            );
            out.emit(&store.pull(&from, &mut advance)?)?;
            return Ok(crate::EXIT_OK);
        }
        DataCommand::List => {
            let (context, _) = crate::target::open(global)?;
            let store = DataStore::open(&context.site, &context.ledger)?;
            out.emit(store.list()?.as_slice())?;
            return Ok(crate::EXIT_OK);
        }
        DataCommand::Prune { keep } => {
            let (context, config) = crate::target::open(global)?;
            let store = DataStore::open(&context.site, &context.ledger)?;
            let keep = keep.unwrap_or_else(|| config.map_or(3, |config| config.data.keep));
            out.emit(&store.prune(keep.max(1))?)?;
            return Ok(crate::EXIT_OK);
        }
        DataCommand::Roll {
            id, reason, force, ..
        } => (Op::DataRoll, id, reason, force),
        DataCommand::Revert {
            to, reason, force, ..
        } => (Op::DataRevert, to, reason, force),
    };
    // One journaled operation under the site lock: the pointer moves, then
    // the agent is told; `hoist recover` finishes one killed in between.
    let (mut context, _) = crate::target::open(global)?;
    crate::target::attach_agent(&mut context);
    let request = DataRollRequest {
        op,
        version,
        reason,
        force,
    };
    out.emit(&hoist_deploy::data_roll(&context, &request, &progress)?)?;
    Ok(crate::EXIT_OK)
}

/// The site for a command that may be its first: its layout is created.
pub(crate) fn create(global: &Global) -> anyhow::Result<hoist_deploy::Context> {
    use anyhow::Context as _;
    let config = crate::target::config(global)?;
    let root = crate::target::root(global, config.as_ref())?;
    let mut context = hoist_deploy::Context::create(&root)
        .with_context(|| format!("cannot use site `{}`", root.display()))?;
    context.join_fleet_op(global.fleet_op.clone());
    Ok(context)
}
