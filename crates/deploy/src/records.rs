//! What the stage phase writes beside the manifest just before the seal:
//! the record of what the release's checks and tests generated, and the
//! stamps of its shipped files (see [`hoist_store::Generated`] and
//! [`hoist_store::Stamps`]). Both are written durably (temp file, fsync,
//! rename, directory fsync), so a release that reaches `ready` has them.

use crate::{shared, DeployError, Reporter};
use hoist_beneath::Dir;
use hoist_site::durable;
use hoist_store::{Generated, Manifest, Stamps, GENERATED_NAME, STAMPS_NAME};
use std::path::Path;

/// Stamps every shipped file of the release being staged at `partial`,
/// right after unpack, while each is known to match its digest.
pub(crate) fn stamp(partial: &Path, manifest: &Manifest) -> Result<Stamps, DeployError> {
    let tree = open(partial)?;
    Ok(Stamps::take(&tree, manifest))
}

/// After checks and tests: records what they generated, keeps the stamps
/// of the files they left alone, and writes both into the release.
pub(crate) fn write(
    partial: &Path,
    manifest: &Manifest,
    mut stamps: Stamps,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let tree = open(partial)?;
    let walked = tree.walk().map_err(|source| hoist_site::SiteError::Io {
        action: "cannot read",
        path: partial.to_owned(),
        cause: source,
    })?;
    let shared_links = shared::links_in_walk(&tree, &walked);
    let generated = Generated::from_walk(&tree, &walked, manifest, &shared_links)?;
    let files = generated
        .entries
        .iter()
        .filter(|entry| entry.kind == hoist_store::EntryKind::File)
        .count();
    if !generated.entries.is_empty() {
        reporter.step(
            "generated",
            &format!(
                "checks and tests wrote {} ({files} of them files), e.g. `{}`; recorded, so `hoist verify` knows them",
                match generated.entries.len() {
                    1 => "1 path".to_owned(),
                    count => format!("{count} paths"),
                },
                generated.entries[0].path
            ),
        );
        durable::write_atomic(&partial.join(GENERATED_NAME), &generated.to_json())?;
    }
    stamps.keep_unmoved(&tree);
    durable::write_atomic(&partial.join(STAMPS_NAME), &stamps.to_json())?;
    Ok(())
}

fn open(partial: &Path) -> Result<Dir, DeployError> {
    Dir::open(partial).map_err(|source| {
        hoist_site::SiteError::Io {
            action: "cannot open",
            path: partial.to_owned(),
            cause: source,
        }
        .into()
    })
}
