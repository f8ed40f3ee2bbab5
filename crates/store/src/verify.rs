//! Comparing a release tree on disk with its manifest.

use crate::hash::hash_reader;
use crate::{release_mode, EntryKind, Manifest, StoreError, MANIFEST_NAME};
use serde::Serialize;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// How a tree differs from its manifest. Empty means it is exactly what was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Paths whose content, size, kind, mode or link target differ.
    pub changed: Vec<String>,
    /// Manifest paths not on disk.
    pub missing: Vec<String>,
    /// Paths on disk the manifest does not list (and that are not expected extras).
    pub extra: Vec<String>,
}

impl Drift {
    /// Whether the tree matches.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Checks every entry of `manifest` under `root`. `expected_extra` lists
/// paths hoist itself adds (shared links and the dirs holding them).
pub fn verify_tree(
    root: &Path,
    manifest: &Manifest,
    expected_extra: &HashSet<String>,
) -> Result<Drift, StoreError> {
    let mut drift = Drift::default();
    for entry in &manifest.files {
        let path = root.join(&entry.path);
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            drift.missing.push(entry.path.clone());
            continue;
        };
        let same = match entry.kind {
            EntryKind::Dir => metadata.is_dir(),
            EntryKind::Symlink => {
                metadata.is_symlink()
                    && std::fs::read_link(&path)
                        .ok()
                        .and_then(|t| t.to_str().map(str::to_owned))
                        == entry.target
            }
            EntryKind::File => {
                metadata.is_file()
                    && metadata.len() == entry.size
                    && metadata.permissions().mode() & 0o7777 == release_mode(entry.mode)
                    && {
                        let mut file = std::fs::File::open(&path)
                            .map_err(StoreError::io("cannot open", &path))?;
                        let (_, digest) =
                            hash_reader(&mut file).map_err(StoreError::io("cannot read", &path))?;
                        entry.blake3.as_deref() == Some(digest.as_str())
                    }
            }
        };
        if !same {
            drift.changed.push(entry.path.clone());
        }
    }
    let listed: HashSet<&str> = manifest
        .files
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .min_depth(1)
        .sort_by_file_name();
    for item in walker {
        let item = item.map_err(|error| StoreError::Io {
            action: "cannot read",
            path: error.path().unwrap_or(root).to_owned(),
            source: error.into(),
        })?;
        let relative = item
            .path()
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        if relative != MANIFEST_NAME
            && !listed.contains(relative.as_str())
            && !expected_extra.contains(&relative)
        {
            drift.extra.push(relative);
        }
    }
    Ok(drift)
}
