//! The argument grammar, shared flags first.

use crate::commands::Command;
use clap::{Args, Parser};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Examples:
  hoist init                          write a commented hoist.toml
  hoist build                         pack this directory into dist/<release>.tar.zst
  hoist deploy --root /srv/shop       build and deploy this directory
  hoist deploy dist/X.tar.zst         deploy a built artifact
  hoist rollback --reason 'bad css'   go back one release
  hoist status --json                 what is live, and since when
  hoist data load catalog.db          a new data version; `hoist data roll` makes it live
  hoist db status --json              applied and pending migrations
  hoist demo                          try it all on a temporary site";

/// Zero-downtime deploys: build, ship, verify, switch, roll back.
#[derive(Debug, Parser)]
#[command(name = "hoist", version = env!("HOIST_LONG_VERSION"), about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The site root (default: `$HOIST_ROOT` when set and not empty, else
    /// `deploy.root` from hoist.toml).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The config file (default: ./hoist.toml when present).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors and the result.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// The fleet operation this command is one host's part of; set by
    /// `hoist deploy --stage` on each host it drives, never by hand.
    #[arg(long, global = true, hide = true, value_name = "ID")]
    pub fleet_op: Option<String>,
}
