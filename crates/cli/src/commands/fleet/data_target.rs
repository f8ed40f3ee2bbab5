//! `hoist fleet data-target [--revert] [VERSION]`: the data version a roll
//! (or revert) would go to on this host, and the live one, by the rules of
//! `hoist data roll|revert`. `hoist data roll --stage` asks every host and
//! moves none unless they all name the same version.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_data::DataStore;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where a revert would go (default: a roll).
    #[arg(long)]
    revert: bool,
    /// A version id, unique prefix or label, as `data roll` takes.
    #[arg(value_name = "VERSION")]
    wanted: Option<String>,
}

#[derive(Debug, Serialize)]
struct Target {
    target: String,
    live: Option<String>,
}

impl Render for Target {
    fn human(&self, out: &mut String) {
        output::field(out, "target", &self.target);
        output::field(out, "live", self.live.as_deref().unwrap_or("-"));
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open(global)?;
    let store = DataStore::open(&context.site, &context.ledger)?;
    let version = args.wanted.as_deref();
    let target = if args.revert {
        store.revert_target(version)?
    } else {
        store.roll_target(version)?
    };
    Output::new(global.json).emit(&Target {
        target,
        live: store.live()?,
    })?;
    Ok(crate::EXIT_OK)
}
