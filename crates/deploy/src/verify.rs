//! `hoist verify`: is what runs what was built and tested?

use crate::deploy::read_manifest;
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
    // The shared paths the release's own config names; without them its
    // links are checked as if nothing were shared.
    let shared = context
        .settings_for(id, None)
        .map(|settings| settings.shared)
        .unwrap_or_default();
    let mounts = shared::mounts(&shared);
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
