//! `hoist verify`: is what runs what was built and tested?

use crate::stage::read_manifest;
use crate::{shared, Context, DeployError};
use hoist_store::{verify_tree, Drift};
use std::collections::HashSet;

/// Compares release `id` on disk with its manifest. Shared links hoist made
/// are expected; anything else unlisted is reported as extra.
pub fn verify_release(context: &Context, id: &str) -> Result<Drift, DeployError> {
    let dir = context.site.release_dir(id);
    if !dir.is_dir() {
        return Err(DeployError::UnknownRelease(id.to_owned()));
    }
    let Some(manifest) = read_manifest(&dir) else {
        return Ok(Drift {
            changed: vec![hoist_store::MANIFEST_NAME.to_owned()],
            ..Drift::default()
        });
    };
    // The shared links hoist made are found on disk, not in a config that
    // may have changed since: a link `p -> ../../shared/p` cannot come from
    // an artifact (the store refuses links that lead out of the release).
    let mounts = shared::links_in_place(&dir)?;
    let mounts: Vec<&str> = mounts.iter().map(String::as_str).collect();
    let mut drift = verify_tree(&dir, &manifest, &HashSet::new(), &mounts)?;
    drift.extra = shared::without_shared_links(&dir, std::mem::take(&mut drift.extra));
    Ok(drift)
}

/// Errors unless release `id` matches its manifest exactly.
pub(crate) fn require_clean(context: &Context, id: &str) -> Result<(), DeployError> {
    let drift = verify_release(context, id)?;
    if drift.is_clean() {
        return Ok(());
    }
    let summary = format!(
        "{} changed, {} missing, {} extra, e.g. `{}`",
        drift.changed.len(),
        drift.missing.len(),
        drift.extra.len(),
        drift
            .changed
            .iter()
            .chain(&drift.missing)
            .chain(&drift.extra)
            .next()
            .map_or("", String::as_str)
    );
    Err(DeployError::ReleaseDrift {
        id: id.to_owned(),
        summary,
    })
}
