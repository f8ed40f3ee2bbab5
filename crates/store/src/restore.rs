//! Putting a release back the way it was built, from its artifact: the
//! library half of `hoist repair`.
//!
//! Whatever [`crate::verify_tree`] finds wrong is fixed in place, in the sealed
//! (possibly live) release:
//! - shipped files changed or missing are written from the artifact
//!   *beside* their place, checked against their digest, fsynced, and
//!   renamed over it, so a reader sees the old file or the new one, never
//!   half of one; dirs and links the same way;
//! - paths that are neither shipped nor generated (a planted file) are removed;
//! - generated paths changed since the seal are removed (the artifact
//!   cannot restore them) and dropped from the record, so verify passes.
//!
//! Every path is reached through no symlink ([`hoist_beneath`]). A
//! directory is made writable only while an entry in it is replaced, and
//! gets its sealed mode back before this returns.

use crate::hash::copy_hashing;
use crate::unpack::{entry_kind, open_archive};
use crate::{
    release_mode, Artifact, Drift, Entry, EntryKind, Generated, StoreError, GENERATED_NAME,
    MANIFEST_NAME,
};
use hoist_beneath::Dir;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a restore found and put right.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// Shipped paths whose content, kind, mode or target differed: rewritten.
    pub replaced: Vec<String>,
    /// Shipped paths that were gone: written again.
    pub missing: Vec<String>,
    /// Paths neither shipped nor generated: removed.
    pub removed: Vec<String>,
    /// Generated paths changed since the seal: removed, and dropped from the record.
    pub removed_generated: Vec<String>,
    /// Generated paths that were gone: dropped from the record.
    pub missing_generated: Vec<String>,
}

impl Restored {
    /// Whether the release was already exactly what was built.
    pub fn is_empty(&self) -> bool {
        self.replaced.is_empty()
            && self.missing.is_empty()
            && self.removed.is_empty()
            && self.removed_generated.is_empty()
            && self.missing_generated.is_empty()
    }
}

/// Puts right what `drift` (from [`crate::verify_tree`], with the caller's shared
/// links already taken out of its extras) found in the release at `root`,
/// from `artifact`, whose manifest the caller has matched with the release's.
pub fn restore(artifact: &Artifact, root: &Path, drift: &Drift) -> Result<Restored, StoreError> {
    let tree = Dir::open(root).map_err(StoreError::io("cannot open", root))?;
    // An unreadable record is rewritten from nothing (the caller's drift
    // then names its paths as extra).
    let mut generated = Generated::read(&tree).unwrap_or_else(|_| Generated::empty());
    let mut restored = Restored {
        // A file whose mode alone changed is written again too: beside it
        // and renamed over, never `chmod`ed in place, where the inode may be
        // shared with another release.
        replaced: drift
            .changed
            .iter()
            .cloned()
            .chain(drift.mode.iter().map(|change| change.path.clone()))
            .collect(),
        missing: drift.missing.clone(),
        removed: drift.extra.clone(),
        removed_generated: drift.changed_generated.clone(),
        missing_generated: drift.missing_generated.clone(),
    };
    // Kind `Other` (a fifo) is listed as changed and as extra: removing it is the fix.
    let extra: HashSet<&String> = restored.removed.iter().collect();
    restored.replaced.retain(|path| !extra.contains(path));
    if restored.is_empty() {
        return Ok(restored);
    }
    let mut work = Work {
        artifact,
        tree: &tree,
        root: root.to_owned(),
        unsealed: BTreeMap::new(),
        touched: BTreeSet::new(),
    };
    let result = work.fix(&restored, &mut generated);
    let resealed = work.reseal();
    result.and(resealed).map(|()| restored)
}

/// One restore in progress.
struct Work<'a> {
    artifact: &'a Artifact,
    tree: &'a Dir,
    root: PathBuf,
    /// Dirs made writable, with the mode to give back (`""` is the root).
    unsealed: BTreeMap<String, u32>,
    /// Dirs whose entries changed, to fsync.
    touched: BTreeSet<String>,
}

impl Work<'_> {
    fn fix(&mut self, restored: &Restored, generated: &mut Generated) -> Result<(), StoreError> {
        for path in restored.removed.iter().chain(&restored.removed_generated) {
            self.remove(path)?;
        }
        if !restored.removed_generated.is_empty() || !restored.missing_generated.is_empty() {
            let gone = |path: &str| {
                (restored.removed_generated.iter())
                    .chain(&restored.missing_generated)
                    .any(|removed| {
                        path == removed
                            || path
                                .strip_prefix(removed.as_str())
                                .is_some_and(|rest| rest.starts_with('/'))
                    })
            };
            generated.entries.retain(|entry| !gone(&entry.path));
            self.write_beside(GENERATED_NAME, 0o444, &mut generated.to_json().as_slice())?;
        }
        let broken: HashSet<&str> = restored
            .replaced
            .iter()
            .chain(&restored.missing)
            .map(String::as_str)
            .collect();
        if broken.contains(MANIFEST_NAME) {
            let json = self.artifact.manifest().to_json();
            self.write_beside(MANIFEST_NAME, 0o444, &mut json.as_slice())?;
        }
        // Manifest order puts every dir before what it holds.
        let mut files = HashSet::new();
        for entry in &self.artifact.manifest().files {
            if !broken.contains(entry.path.as_str()) {
                continue;
            }
            match entry.kind {
                EntryKind::Dir => self.make_dir(entry)?,
                EntryKind::Symlink => self.make_link(entry)?,
                EntryKind::File => {
                    files.insert(entry.path.clone());
                }
            }
        }
        if !files.is_empty() {
            self.write_files(&files)?;
        }
        for dir in &self.touched {
            let synced = if dir.is_empty() {
                self.tree.sync()
            } else {
                self.tree
                    .open_dir(Path::new(dir))
                    .and_then(|dir| dir.sync())
            };
            synced.map_err(StoreError::io("cannot fsync", self.root.join(dir)))?;
        }
        Ok(())
    }

    /// Streams the artifact once and writes each of `files` from it.
    fn write_files(&mut self, files: &HashSet<String>) -> Result<(), StoreError> {
        let path = self.artifact.path().to_owned();
        let corrupt = |error: std::io::Error| StoreError::Corrupt {
            path: path.clone(),
            detail: error.to_string(),
        };
        let mut archive = open_archive(&path)?;
        let mut written = 0;
        for tar_entry in archive.entries().map_err(corrupt)?.skip(1) {
            let mut tar_entry = tar_entry.map_err(corrupt)?;
            let name = String::from_utf8_lossy(&tar_entry.path_bytes())
                .trim_end_matches('/')
                .to_owned();
            if !files.contains(&name) {
                continue;
            }
            let entry = self
                .artifact
                .manifest()
                .entry(&name)
                .expect("only manifest paths are restored")
                .clone();
            if entry_kind(&tar_entry, self.artifact, &name)? != EntryKind::File {
                return Err(self
                    .artifact
                    .unsafe_entry(&name, "does not match its manifest entry"));
            }
            self.write_file(&entry, &mut tar_entry)?;
            written += 1;
        }
        if written != files.len() {
            return Err(corrupt(std::io::Error::other(format!(
                "{} files the manifest lists are not in it",
                files.len() - written
            ))));
        }
        Ok(())
    }

    fn write_file(&mut self, entry: &Entry, data: &mut dyn Read) -> Result<(), StoreError> {
        let mut limited = Read::take(data, entry.size + 1);
        let (size, digest) =
            self.write_beside(&entry.path, release_mode(entry.mode), &mut limited)?;
        if size != entry.size || entry.blake3.as_deref() != Some(digest.as_str()) {
            return Err(StoreError::DigestMismatch {
                artifact: self.artifact.path().to_owned(),
                entry: entry.path.clone(),
            });
        }
        Ok(())
    }

    /// Writes `data` to a temp file beside `path`, fsyncs it and renames it
    /// over `path`; returns what was written (size, digest). A temp file
    /// that fails is removed.
    fn write_beside(
        &mut self,
        path: &str,
        mode: u32,
        data: &mut dyn Read,
    ) -> Result<(u64, String), StoreError> {
        let temp = self.beside(path);
        self.open_parent(path)?;
        let target = self.root.join(&temp);
        let written = (|| {
            let mut file = self.tree.create_file(&temp, mode)?;
            let written = copy_hashing(&mut &mut *data, &mut file)?;
            file.flush()?;
            file.sync_all()?;
            Ok(written)
        })()
        .map_err(StoreError::io("cannot write", &target));
        let written = written.and_then(|written| {
            self.replace_with(&temp, path)?;
            Ok(written)
        });
        if written.is_err() {
            let _ = self.tree.remove(&temp);
        }
        written
    }

    fn make_link(&mut self, entry: &Entry) -> Result<(), StoreError> {
        let temp = self.beside(&entry.path);
        self.open_parent(&entry.path)?;
        let target = Path::new(entry.target.as_deref().unwrap_or_default());
        self.tree
            .symlink(target, &temp)
            .map_err(StoreError::io("cannot create link", self.root.join(&temp)))?;
        self.replace_with(&temp, &entry.path)
    }

    fn make_dir(&mut self, entry: &Entry) -> Result<(), StoreError> {
        self.remove(&entry.path)?;
        self.open_parent(&entry.path)?;
        let relative = Path::new(&entry.path);
        // Writable until everything in it is back; sealed at the end.
        self.tree
            .create_dir(relative, release_mode(entry.mode) | 0o700)
            .map_err(StoreError::io("cannot create", self.root.join(relative)))?;
        self.unsealed
            .insert(entry.path.clone(), release_mode(entry.mode));
        Ok(())
    }

    /// Renames `temp` over `path`; a directory standing there goes first
    /// (rename cannot replace one with a file).
    fn replace_with(&mut self, temp: &Path, path: &str) -> Result<(), StoreError> {
        let relative = Path::new(path);
        if self.tree.metadata(relative).is_ok_and(|meta| meta.is_dir()) {
            self.remove(path)?;
        }
        self.tree.rename(temp, relative).map_err(StoreError::io(
            "cannot rename into",
            self.root.join(relative),
        ))
    }

    /// Removes whatever is at `path` (a tree, a file, a link); gone already is fine.
    fn remove(&mut self, path: &str) -> Result<(), StoreError> {
        if self.tree.metadata(Path::new(path)).is_err() {
            // Gone, or under something removed (or replaced) already.
            return Ok(());
        }
        self.open_parent(path)?;
        match self.tree.remove(Path::new(path)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError::io("cannot remove", self.root.join(path))(error))
            }
            _ => Ok(()),
        }
    }

    /// The temp name a replacement for `path` is written under.
    fn beside(&self, path: &str) -> PathBuf {
        let relative = Path::new(path);
        let name = relative.file_name().unwrap_or_default().to_string_lossy();
        relative.with_file_name(format!(".{name}.hoist-repair-{}", std::process::id()))
    }

    /// Makes the dir holding `path` writable (until [`Work::reseal`]).
    fn open_parent(&mut self, path: &str) -> Result<(), StoreError> {
        let parent = Path::new(path)
            .parent()
            .and_then(Path::to_str)
            .unwrap_or_default()
            .to_owned();
        self.touched.insert(parent.clone());
        if self.unsealed.contains_key(&parent) {
            return Ok(());
        }
        let at = self.root.join(&parent);
        let metadata = if parent.is_empty() {
            std::fs::symlink_metadata(&self.root)
        } else {
            self.tree.metadata(Path::new(&parent))
        }
        .map_err(StoreError::io("cannot stat", &at))?;
        let mode = metadata.permissions().mode() & 0o7777;
        self.set_mode(&parent, mode | 0o700)?;
        // Sealed again whatever it was found as (a repair killed mid-way
        // may have left it writable).
        self.unsealed.insert(parent, release_mode(mode));
        Ok(())
    }

    /// Gives every dir made writable its mode back, deepest first.
    fn reseal(&mut self) -> Result<(), StoreError> {
        let unsealed = std::mem::take(&mut self.unsealed);
        for (dir, mode) in unsealed.into_iter().rev() {
            self.set_mode(&dir, mode)?;
        }
        Ok(())
    }

    fn set_mode(&self, dir: &str, mode: u32) -> Result<(), StoreError> {
        let at = self.root.join(dir);
        if dir.is_empty() {
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(mode))
        } else {
            self.tree.set_mode(Path::new(dir), mode)
        }
        .map_err(StoreError::io("cannot change the mode of", at))
    }
}
