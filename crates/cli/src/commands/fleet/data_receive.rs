//! `hoist fleet data-receive --id ID --digest D`: a host's half of `hoist
//! data load --stage`. Reads one packed data version from stdin (or, with
//! `--copy-of V`, takes this host's own version V of the same content) and
//! loads it under the id and digest the deploying machine gave, so every
//! host of the stage has the version under one id. Answers the load's
//! report, as `hoist data load --json` does.

use crate::cli::Global;
use crate::output::Output;
use anyhow::Context as _;
use hoist_data::{DataStore, Expected, LoadRequest};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The version's id on every host.
    #[arg(long)]
    id: String,
    /// Its content digest; a copy that does not match is not loaded.
    #[arg(long)]
    digest: String,
    /// Load this host's own version VERSION (the same content under
    /// another id) instead of reading one from stdin.
    #[arg(long, value_name = "VERSION")]
    copy_of: Option<String>,
    /// A note for `data list` and the ledger.
    #[arg(long)]
    label: Option<String>,
    /// A command run in the new version (`$HOIST_DATA`); non-zero refuses it.
    #[arg(long, value_name = "CMD")]
    check: Option<String>,
}

/// Where a version is unpacked before it is loaded: beside `data/versions`,
/// so the load's copy stays on one filesystem.
const INCOMING: &str = ".receive-";

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let context = super::super::data::create(global)?;
    let store = DataStore::open(&context.site, &context.ledger)?;
    let expected = Expected {
        id: args.id,
        digest: args.digest,
    };
    let request = |source| LoadRequest {
        source,
        label: args.label.clone(),
        check: args.check.clone(),
    };
    let report = match &args.copy_of {
        Some(version) => {
            let id = store.resolve(version)?;
            let source = store.catalog().version_dir(&id);
            store.load_as(&request(source), Some(&expected), &mut |_, _| {})?
        }
        None => {
            let data = store.catalog().dir();
            // Left by a receive that was killed: one fleet operation holds
            // this host at a time, so none is in use now.
            for stale in std::fs::read_dir(data)?.flatten() {
                if stale.file_name().to_string_lossy().starts_with(INCOMING) {
                    remove(&stale.path());
                }
            }
            let incoming = tempfile::Builder::new()
                .prefix(INCOMING)
                .tempdir_in(data)
                .with_context(|| format!("cannot create a directory in `{}`", data.display()))?;
            hoist_fleet::unpack_data(std::io::stdin().lock(), incoming.path())
                .context("cannot unpack the data version sent")?;
            let loaded = store.load_as(
                &request(incoming.path().to_owned()),
                Some(&expected),
                &mut |_, _| {},
            );
            remove(incoming.path());
            loaded?
        }
    };
    Output::new(global.json).emit(&report)?;
    Ok(crate::EXIT_OK)
}

/// Removes an unpacked tree, whose directories may have come read-only.
fn remove(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if entry.file_type().is_dir() {
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o755));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
