//! A host's depot for releases on their way in (`<root>/fleet/`): what a
//! deploying machine ships there, and the artifact assembled from it.
//!
//! ```text
//! <root>/fleet/
//!   parts/<blake3>         files received so far, each renamed in whole
//!   manifests/<digest>.json  manifests `need` was sent, for `receive` to name
//!   <release-id>.tar.zst   the assembled artifact, for `hoist deploy`
//! ```
//!
//! 1. [`Depot::need`]: of a manifest's file contents, which the host can
//!    produce itself (a file of an older release listed under the same
//!    digest by that release's manifest, or a part) and which it lacks.
//! 2. [`Depot::receive`]: reads the [`wire`] stream, writes each file into
//!    `parts/` as it arrives (a dropped transfer keeps them: the next
//!    `need` lists only the rest), then [`Depot::assemble`]s the artifact
//!    with the very bytes `hoist build` writes, checking every file's
//!    digest as it goes. A local copy found damaged is reported as missing.
//!
//! Nothing is written outside the depot, and a digest from the wire is
//! checked ([`check_digest`]) before it names a file.

mod answer;
mod assemble;
mod error;
mod local;
mod receive;
pub mod wire;

pub use answer::{Need, Received};
pub use error::ShipError;

use crate::Manifest;
use std::path::{Path, PathBuf};

/// A manifest is metadata; one this large is an attack, not a release.
const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// `<root>/fleet/` and the releases whose files it may reuse.
#[derive(Debug, Clone)]
pub struct Depot {
    dir: PathBuf,
    releases: PathBuf,
}

impl Depot {
    /// The depot `dir` (created with its `parts/` when missing), reusing
    /// the files of the releases in `releases`.
    pub fn open(dir: &Path, releases: &Path) -> Result<Depot, ShipError> {
        let depot = Depot {
            dir: dir.to_owned(),
            releases: releases.to_owned(),
        };
        std::fs::create_dir_all(depot.parts_dir())
            .map_err(ShipError::io("cannot create", depot.parts_dir()))?;
        Ok(depot)
    }

    /// `parts/`.
    pub fn parts_dir(&self) -> PathBuf {
        self.dir.join("parts")
    }

    /// `parts/<digest>`; `digest` must have passed [`check_digest`].
    fn part(&self, digest: &str) -> PathBuf {
        self.parts_dir().join(digest)
    }

    /// `manifests/`.
    fn manifests_dir(&self) -> PathBuf {
        self.dir.join("manifests")
    }

    /// Keeps a manifest `need` was sent, so the transfer can name it by digest.
    fn keep_manifest(&self, manifest: &Manifest) -> Result<(), ShipError> {
        let dir = self.manifests_dir();
        std::fs::create_dir_all(&dir).map_err(ShipError::io("cannot create", &dir))?;
        let path = dir.join(format!("{}.json", manifest.digest));
        let temp = dir.join(format!(".{}.tmp-{}", manifest.digest, std::process::id()));
        std::fs::write(&temp, manifest.to_json())
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(ShipError::io("cannot write", &path))
    }

    /// The manifest `need` kept under `digest`.
    fn kept_manifest(&self, digest: &str) -> Result<Manifest, ShipError> {
        check_digest(digest)?;
        let path = self.manifests_dir().join(format!("{digest}.json"));
        let json = std::fs::read(&path).map_err(|error| ShipError::BadManifest {
            detail: format!(
                "the transfer names manifest `{digest}`, which this host does not hold ({error}); ship again, starting with `need`"
            ),
        })?;
        let manifest = checked_manifest(&json)?;
        if manifest.digest != digest {
            return Err(ShipError::BadManifest {
                detail: format!("`{}` holds another manifest", path.display()),
            });
        }
        Ok(manifest)
    }

    /// `<release-id>.tar.zst`: where the assembled artifact goes.
    pub fn artifact_path(&self, manifest: &Manifest) -> PathBuf {
        self.dir.join(format!("{}.tar.zst", manifest.release))
    }

    /// Which of `manifest`'s file contents this host lacks.
    pub fn need(&self, manifest: &Manifest) -> Result<Need, ShipError> {
        let wanted = local::wanted(manifest)?;
        self.keep_manifest(manifest)?;
        let artifact = self.artifact_path(manifest);
        let whole = crate::Artifact::open(&artifact, u64::MAX)
            .is_ok_and(|held| held.manifest().digest == manifest.digest);
        let sources = local::Sources::find(self, &wanted);
        let mut missing = Vec::new();
        let mut missing_bytes = 0;
        if !whole {
            for (digest, size) in &wanted {
                if !sources.has(digest, *size) {
                    missing.push(digest.clone());
                    missing_bytes += size;
                }
            }
        }
        Ok(Need {
            release: manifest.release.clone(),
            digest: manifest.digest.clone(),
            files: wanted.len() as u64,
            have: (wanted.len() - missing.len()) as u64,
            missing,
            missing_bytes,
            artifact: whole.then_some(artifact),
        })
    }
}

/// Refuses anything but 64 lowercase hex characters: names from the wire
/// become file names under `parts/`.
pub fn check_digest(text: &str) -> Result<(), ShipError> {
    let hex = text.len() == 64
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if hex {
        Ok(())
    } else {
        Err(ShipError::BadDigest {
            digest: text.chars().take(80).collect(),
        })
    }
}

/// Parses a manifest from the wire and refuses one that is not intact.
fn checked_manifest(json: &[u8]) -> Result<Manifest, ShipError> {
    let bad = |detail: String| ShipError::BadManifest { detail };
    let manifest = Manifest::from_json(json).map_err(|error| bad(error.to_string()))?;
    if manifest.format != Manifest::FORMAT {
        return Err(bad(format!(
            "manifest format {} is not supported; upgrade hoist",
            manifest.format
        )));
    }
    if !manifest.is_intact() {
        return Err(bad("it does not match its own digest".into()));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests;
