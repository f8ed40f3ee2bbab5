//! The two ends of `hoist notes` and of a deploy's notes: a release on
//! the site, an artifact file, or a git revision, each with its git
//! revision and the migration files it ships.
//!
//! `migrations` is the app's migrations directory, or `None` for an app
//! with no `[database]`: it has no schema, so no side lists migrations
//! and no note about a schema change is a warning.

use hoist_notes::{Notes, Side};
use hoist_site::Site;
use hoist_store::{Artifact, EntryKind, Manifest};
use std::path::Path;

/// How big an artifact `hoist notes` opens (only its manifest is read).
const ARTIFACT_LIMIT: u64 = u64::MAX;

/// Where the notes look for releases: the site, or the root that has none.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// An existing site.
    Site(&'a Site),
    /// A root with no site in it.
    NoSite(&'a Path),
    /// No root given (no `--root`, no `deploy.root`).
    NoRoot,
}

impl<'a> Place<'a> {
    fn site(self) -> Option<&'a Site> {
        match self {
            Place::Site(site) => Some(site),
            Place::NoSite(_) | Place::NoRoot => None,
        }
    }

    /// Why there is no release to read here.
    fn missing(self) -> String {
        match self {
            Place::Site(site) => format!("on the site at `{}`", site.root().display()),
            Place::NoSite(root) => format!("no site at `{}`", root.display()),
            Place::NoRoot => {
                "no site given (pass `--root DIR`, or run where `hoist.toml` sets `deploy.root`)"
                    .to_owned()
            }
        }
    }
}

/// The side `spec` names: a release on `place`, an artifact path, else a
/// git revision of `repo`.
pub fn side(spec: &str, place: Place<'_>, repo: &Path, migrations: Option<&str>) -> Side {
    if let Some(site) = place.site() {
        let manifest = site.release_dir(spec).join(hoist_store::MANIFEST_NAME);
        if let Ok(bytes) = std::fs::read(&manifest) {
            if let Ok(manifest) = Manifest::from_json(&bytes) {
                return of_manifest(spec, &manifest, migrations);
            }
        }
    }
    let path = Path::new(spec);
    if path.is_file() {
        if let Ok(artifact) = Artifact::open(path, ARTIFACT_LIMIT) {
            // Named by its release id: the path says less once it is deployed.
            let id = artifact.manifest().release.to_string();
            return of_manifest(&id, artifact.manifest(), migrations);
        }
    }
    if is_release_id(spec) {
        // Not a revision git could know: say the release is not there.
        let problem = match place {
            Place::Site(_) => format!(
                "no release `{spec}` {} (`hoist releases` lists them)",
                place.missing()
            ),
            Place::NoSite(_) | Place::NoRoot => {
                format!("no release `{spec}`: {}", place.missing())
            }
        };
        return unknown(spec, problem);
    }
    Side {
        label: spec.to_owned(),
        revision: Some(spec.to_owned()),
        migrations: migrations.and_then(|dir| hoist_notes::git::files_at(repo, spec, dir)),
        unknown: None,
    }
}

/// The live release of `place`, or a side with no revision saying why there is none.
pub fn live(place: Place<'_>, repo: &Path, migrations: Option<&str>) -> Side {
    let Some(site) = place.site() else {
        return unknown(
            "the live release",
            format!(
                "{}, so there is no live release to start from; name FROM (`hoist notes FROM TO`)",
                place.missing()
            ),
        );
    };
    match site.live().ok().flatten() {
        Some(live) => side(&live, place, repo, migrations),
        None => unknown(
            "the live release (nothing is live)",
            format!(
                "nothing is live on the site at `{}`, so there are no notes; name FROM (`hoist notes FROM TO`)",
                site.root().display()
            ),
        ),
    }
}

/// A deploy's notes: from the live release to `artifact`, read in this
/// directory's repository; `None` when nothing is live (a first deploy).
pub fn for_deploy(root: &Path, artifact: &Path, migrations: Option<&str>) -> Option<Notes> {
    let site = Site::open(root).ok()?;
    site.live().ok().flatten()?;
    let repo = Path::new(".");
    let from = live(Place::Site(&site), repo, migrations);
    let to = side(
        &artifact.display().to_string(),
        Place::Site(&site),
        repo,
        migrations,
    );
    Some(Notes::between(repo, &from, &to))
}

fn unknown(label: &str, problem: String) -> Side {
    Side {
        label: label.to_owned(),
        revision: None,
        migrations: None,
        unknown: Some(problem),
    }
}

/// Whether `spec` has a release id's shape (`20261122T101500Z-…`): a
/// stamp no git revision has.
fn is_release_id(spec: &str) -> bool {
    let Some((stamp, rest)) = spec.split_once('-') else {
        return false;
    };
    let (date, time) = stamp.split_at(stamp.len().min(8));
    let time = time.strip_prefix('T').unwrap_or("");
    let time = time.strip_suffix('Z').unwrap_or(time);
    !rest.is_empty()
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && time.len() >= 4
        && time.bytes().all(|b| b.is_ascii_digit())
}

fn of_manifest(label: &str, manifest: &Manifest, migrations: Option<&str>) -> Side {
    let migrations = migrations.map(|dir| {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        manifest
            .files
            .iter()
            .filter(|entry| entry.kind == EntryKind::File && entry.path.starts_with(&prefix))
            .map(|entry| entry.path.clone())
            .collect()
    });
    Side {
        label: label.to_owned(),
        revision: manifest.revision.clone(),
        migrations,
        unknown: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_ids_are_told_from_revisions() {
        for id in ["20990101T0000Z-x", "20261122T101500Z-1.4.2-a1b2c3d"] {
            assert!(super::is_release_id(id), "{id}");
        }
        for revision in [
            "HEAD",
            "v1.0",
            "main",
            "2099-x",
            "a1b2c3d",
            "20261122T1015Z",
        ] {
            assert!(!super::is_release_id(revision), "{revision}");
        }
    }
}
