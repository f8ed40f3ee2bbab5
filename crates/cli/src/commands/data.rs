//! `hoist data ...`: versioned data sets beside the code.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_data::{DataPruneReport, DataStore, LoadReport, LoadRequest, RollReport, VersionInfo};
use hoist_deploy::Reporter;
use serde::Serialize;
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  hoist data load /var/spool/catz/catalog.db --label nightly --check './bin/check-catalog'
  hoist data roll                      make the newest loaded version live
  hoist data revert                    back to the version live before
  hoist data list --json
  hoist data prune --keep 3
  hoist data pull --from /srv/shop     production's live data into this (dev) site")]
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
    },
    /// Make the newest loaded version (or VERSION) live, atomically
    Roll {
        /// A version id from `hoist data list`.
        #[arg(value_name = "VERSION")]
        id: Option<String>,
    },
    /// Go back to the version live before (or `--to V`)
    Revert {
        /// A version id.
        #[arg(long, value_name = "V")]
        to: Option<String>,
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

/// A roll and what the agent did about it.
#[derive(Debug, Serialize)]
struct Rolled {
    #[serde(flatten)]
    roll: RollReport,
    /// How the app was told: `signal HUP to 2 process(es)`, `restarted`, or `no agent`.
    reload: String,
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

impl Render for Rolled {
    fn human(&self, out: &mut String) {
        output::field(out, "live", &self.roll.version);
        output::field(out, "before", self.roll.from.as_deref().unwrap_or("-"));
        output::field(out, "path", self.roll.path.display());
        output::field(out, "reload", &self.reload);
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
    let (context, config) = crate::target::open(global)?;
    let store = DataStore::open(&context.site, &context.ledger)?;
    let out = Output::new(global.json);
    let progress = crate::progress::Progress::new(global.quiet || global.json);
    let mut advance = |done, total| progress.advance(done, total);
    match args.command {
        DataCommand::Load {
            source,
            label,
            check,
        } => {
            progress.step("load", &format!("{} -> data/versions/", source.display()));
            let request = LoadRequest {
                source,
                label,
                check,
            };
            out.emit(&store.load(&request, &mut advance)?)?;
        }
        DataCommand::Pull { from } => {
            progress.step(
                "pull",
                &format!("the live data version of `{}`", from.display()),
            );
            out.emit(&store.pull(&from, &mut advance)?)?;
        }
        DataCommand::Roll { id } => {
            let roll = store.roll(id.as_deref())?;
            out.emit(&tell_agent(&context, roll)?)?;
        }
        DataCommand::Revert { to } => {
            let roll = store.revert(to.as_deref())?;
            out.emit(&tell_agent(&context, roll)?)?;
        }
        DataCommand::List => out.emit(store.list()?.as_slice())?,
        DataCommand::Prune { keep } => {
            let keep = keep.unwrap_or_else(|| config.map_or(3, |config| config.data.keep));
            out.emit(&store.prune(keep.max(1))?)?;
        }
    }
    Ok(crate::EXIT_OK)
}

/// The pointer moved; the agent (if any) reloads the app and names the version in responses.
fn tell_agent(context: &hoist_deploy::Context, roll: RollReport) -> anyhow::Result<Rolled> {
    let reload = match hoist_agent::AgentClient::find(&context.site.socket_path()) {
        Some(agent) => agent.data_rolled(&roll.version)?.how,
        None => "no agent: apps reading through `data/current` see it on their next open".into(),
    };
    Ok(Rolled { roll, reload })
}
