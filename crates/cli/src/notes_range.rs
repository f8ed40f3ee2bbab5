//! The two ends of `hoist notes` and of a deploy's notes: a release on
//! the site, an artifact file, or a git revision, each with its git
//! revision and the migration files it ships.

use hoist_notes::{Notes, Side};
use hoist_site::Site;
use hoist_store::{Artifact, EntryKind, Manifest};
use std::path::Path;

/// How big an artifact `hoist notes` opens (only its manifest is read).
const ARTIFACT_LIMIT: u64 = u64::MAX;

/// The side `spec` names: a release on `site`, an artifact path, else a
/// git revision of `repo`.
pub fn side(spec: &str, site: Option<&Site>, repo: &Path, migrations: &str) -> Side {
    if let Some(site) = site {
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
    Side {
        label: spec.to_owned(),
        revision: Some(spec.to_owned()),
        migrations: hoist_notes::git::files_at(repo, spec, migrations),
    }
}

/// The live release of `site`, or a side with no revision saying nothing is.
pub fn live(site: Option<&Site>, repo: &Path, migrations: &str) -> Side {
    match site.and_then(|site| site.live().ok().flatten()) {
        Some(live) => side(&live, site, repo, migrations),
        None => Side {
            label: "the live release (nothing is live)".into(),
            revision: None,
            migrations: None,
        },
    }
}

/// A deploy's notes: from the live release to `artifact`, read in this
/// directory's repository; `None` when nothing is live (a first deploy).
pub fn for_deploy(root: &Path, artifact: &Path, migrations: &str) -> Option<Notes> {
    let site = Site::open(root).ok()?;
    site.live().ok().flatten()?;
    let repo = Path::new(".");
    let from = live(Some(&site), repo, migrations);
    let to = side(
        &artifact.display().to_string(),
        Some(&site),
        repo,
        migrations,
    );
    Some(Notes::between(repo, &from, &to))
}

fn of_manifest(label: &str, manifest: &Manifest, migrations: &str) -> Side {
    let prefix = format!("{}/", migrations.trim_end_matches('/'));
    Side {
        label: label.to_owned(),
        revision: manifest.revision.clone(),
        migrations: Some(
            manifest
                .files
                .iter()
                .filter(|entry| entry.kind == EntryKind::File && entry.path.starts_with(&prefix))
                .map(|entry| entry.path.clone())
                .collect(),
        ),
    }
}
