//! Comparing a release tree on disk with its manifest, and with the
//! record of what its own checks and tests generated.

use crate::hash::hash_at;
use crate::{is_metadata, release_mode, EntryKind, Generated, Manifest, StoreError};
use hoist_beneath::{Dir, Kind};
use serde::Serialize;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// How a tree differs from its manifest. Empty means it is exactly what was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Paths whose content, size, kind, mode or link target differ (or that
    /// are only reached through a symlink that is not in the manifest).
    pub changed: Vec<String>,
    /// Manifest paths not on disk.
    pub missing: Vec<String>,
    /// Paths on disk that are neither shipped nor generated (nor hoist's own).
    pub extra: Vec<String>,
    /// Symlinks the manifest lists that lead outside the release, with why.
    pub escapes: Vec<String>,
    /// Paths the release's checks or tests wrote before the seal, unchanged since.
    pub generated: Vec<String>,
    /// Generated paths changed (or gone) since the seal. Not tampering with
    /// what was built, but not what the checks left either: a changed
    /// `.pyc` runs as surely as a changed `.py`, so this fails verify too.
    pub changed_generated: Vec<String>,
    /// Shipped files whose bytes match but whose permission bits do not
    /// (`chmod 444` on a script that shipped `0555`).
    pub mode: Vec<ModeChange>,
    /// Generated paths gone since the seal (a deleted `__pycache__`): not
    /// changed, so said apart; `hoist repair` drops them from the record.
    pub missing_generated: Vec<String>,
}

/// A shipped file whose mode alone differs from what was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModeChange {
    /// The file.
    pub path: String,
    /// Its permission bits on disk.
    #[serde(serialize_with = "octal")]
    pub mode: u32,
    /// The bits it was sealed with.
    #[serde(serialize_with = "octal")]
    pub shipped: u32,
}

impl std::fmt::Display for ModeChange {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            out,
            "{} {:04o}, shipped {:04o}",
            self.path, self.mode, self.shipped
        )
    }
}

/// Modes as people write them: `"0555"`.
fn octal<S: serde::Serializer>(mode: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{mode:04o}"))
}

impl Drift {
    /// Whether the tree matches.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty()
            && self.missing.is_empty()
            && self.extra.is_empty()
            && self.escapes.is_empty()
            && self.changed_generated.is_empty()
            && self.mode.is_empty()
            && self.missing_generated.is_empty()
    }
}

/// Checks every entry of `manifest` under `root`, resolving each path
/// beneath it through no symlink (what a symlink points to is never read
/// as if it were the release's own file). `generated` is what the
/// release's checks and tests wrote before the seal; `mounts` are the
/// shared paths hoist links out of the release, which the manifest's links
/// may enter but not climb out of.
/// Entries at or under a mount were replaced by its link and are not
/// checked here (the caller checks the links themselves).
pub fn verify_tree(
    root: &Path,
    manifest: &Manifest,
    generated: &Generated,
    mounts: &[&str],
) -> Result<Drift, StoreError> {
    let tree = Dir::open(root).map_err(StoreError::io("cannot open", root))?;
    let mut drift = Drift::default();
    if let Err(escape) = crate::check_links(manifest, mounts) {
        drift
            .escapes
            .push(format!("`{}` {}", escape.entry, escape.problem));
    }
    let replaced = |path: &str| {
        mounts.iter().any(|mount| {
            path == *mount
                || path
                    .strip_prefix(mount)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    };
    for entry in manifest.files.iter().filter(|entry| !replaced(&entry.path)) {
        let relative = Path::new(&entry.path);
        let metadata = match tree.metadata(relative) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                drift.missing.push(entry.path.clone());
                continue;
            }
            // Through a symlink, or not a directory on the way: not what was built.
            Err(_) => {
                drift.changed.push(entry.path.clone());
                continue;
            }
        };
        let same = match entry.kind {
            EntryKind::Dir => metadata.is_dir(),
            EntryKind::Symlink => {
                metadata.is_symlink()
                    && tree
                        .read_link(relative)
                        .ok()
                        .and_then(|target| target.to_str().map(str::to_owned))
                        == entry.target
            }
            EntryKind::File => {
                let bytes_match = metadata.is_file()
                    && metadata.len() == entry.size
                    && entry.blake3.as_deref() == Some(hash_at(&tree, relative)?.1.as_str());
                let (mode, shipped) = (
                    metadata.permissions().mode() & 0o7777,
                    release_mode(entry.mode),
                );
                if bytes_match && mode != shipped {
                    drift.mode.push(ModeChange {
                        path: entry.path.clone(),
                        mode,
                        shipped,
                    });
                    continue;
                }
                bytes_match
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
    for entry in &generated.entries {
        if Generated::still_holds(&tree, entry)? {
            drift.generated.push(entry.path.clone());
        } else if tree.metadata(Path::new(&entry.path)).is_err() {
            drift.missing_generated.push(entry.path.clone());
        } else {
            drift.changed_generated.push(entry.path.clone());
        }
    }
    let recorded: HashSet<&str> = generated
        .entries
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    for item in tree.walk().map_err(StoreError::io("cannot read", root))? {
        let relative = item.path.to_string_lossy().into_owned();
        if !is_metadata(&relative)
            && !listed.contains(relative.as_str())
            && !recorded.contains(relative.as_str())
        {
            drift.extra.push(relative);
        }
        if item.kind == Kind::Other {
            // A device or fifo in a release: never built by hoist.
            drift.changed.push(item.path.to_string_lossy().into_owned());
        }
    }
    Ok(drift)
}

/// Whether the regular file at `entry`'s path under `tree` (reached through
/// no symlink) still has the size, mode and digest `entry` gives it: the
/// proof that a file whose stamp moved was not changed after all (a link
/// count moves ctime too). Anything else there, or nothing, is not.
pub fn file_matches(tree: &Dir, entry: &crate::Entry) -> bool {
    let relative = Path::new(&entry.path);
    // `stat` first: opening a fifo a check left at the path would block.
    let is_shipped_file = tree.metadata(relative).is_ok_and(|metadata| {
        metadata.is_file()
            && metadata.len() == entry.size
            && metadata.permissions().mode() & 0o7777 == release_mode(entry.mode)
    });
    is_shipped_file
        && hash_at(tree, relative).is_ok_and(|(size, digest)| {
            size == entry.size && entry.blake3.as_deref() == Some(digest.as_str())
        })
}
