//! `hoist verify`: is what runs what was built and tested?
//!
//! Shipped files are checked strictly against the manifest; what the
//! release's own checks and tests wrote before the seal is checked against
//! its record ([`hoist_store::Generated`]) and reported as generated. A
//! refusal because a release does not verify names `hoist repair`, which
//! puts it back from its artifact.

use crate::stage::read_manifest;
use crate::{shared, Context, DeployError};
use hoist_beneath::Dir;
use hoist_store::{verify_tree, Drift, Generated};

/// Compares release `id` on disk with its manifest and its record of
/// generated paths. Shared links hoist made are expected; anything else
/// unlisted is reported as extra.
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
    let tree = Dir::open(&dir).map_err(|source| hoist_site::SiteError::Io {
        action: "cannot open",
        path: dir.clone(),
        cause: source,
    })?;
    // An unreadable record vouches for nothing: its paths show as extra,
    // the record itself as changed, and `hoist repair` clears both.
    let (generated, unreadable) = match Generated::read(&tree) {
        Ok(generated) => (generated, false),
        Err(_) => (Generated::default(), true),
    };
    // The shared links hoist made are found on disk, not in a config that
    // may have changed since: a link `p -> ../../shared/p` cannot come from
    // an artifact (the store refuses links that lead out of the release).
    let mounts = shared::links_in_place(&dir)?;
    let mounts: Vec<&str> = mounts.iter().map(String::as_str).collect();
    let mut drift = verify_tree(&dir, &manifest, &generated, &mounts)?;
    drift.extra = shared::without_shared_links(&dir, std::mem::take(&mut drift.extra));
    if unreadable {
        drift
            .changed_generated
            .push(hoist_store::GENERATED_NAME.to_owned());
    }
    Ok(drift)
}

/// Errors unless release `id` matches its manifest exactly (and what its
/// checks generated is as they left it).
pub(crate) fn require_clean(context: &Context, id: &str) -> Result<(), DeployError> {
    let drift = verify_release(context, id)?;
    if drift.is_clean() {
        return Ok(());
    }
    Err(DeployError::ReleaseDrift {
        id: id.to_owned(),
        summary: summary(&drift),
    })
}

/// "1 changed, 0 missing, 2 extra, e.g. `app.py`", plus changed generated paths when there are any.
pub(crate) fn summary(drift: &Drift) -> String {
    let generated = match drift.changed_generated.len() {
        0 => String::new(),
        count => format!(", {count} generated changed since the seal"),
    };
    let generated = match drift.missing_generated.len() {
        0 => generated,
        count => format!("{generated}, {count} generated missing"),
    };
    let mode = match drift.mode.len() {
        0 => String::new(),
        count => format!(", {count} with a changed mode"),
    };
    format!(
        "{} changed, {} missing, {} extra{generated}{mode}, e.g. `{}`",
        drift.changed.len(),
        drift.missing.len(),
        drift.extra.len(),
        drift
            .changed
            .iter()
            .chain(&drift.missing)
            .chain(&drift.extra)
            .chain(&drift.changed_generated)
            .chain(drift.mode.iter().map(|change| &change.path))
            .chain(&drift.missing_generated)
            .next()
            .map_or("", String::as_str)
    )
}
