//! Seal stamps: how each shipped file of a release looked on disk (inode,
//! size, mtime, ctime) while its bytes were known to match the manifest.
//!
//! A later deploy that wants to hard-link such a file compares a fresh
//! `stat` with its stamp. Equal means nothing wrote to the inode since: a
//! write moves mtime and ctime, and putting mtime back (`touch -d`) moves
//! ctime, which no user can set. So its bytes need not be read again. Any
//! difference, or no stamp, means it is hashed before it may be linked.
//!
//! Link counts move ctime too: a release that another one linked from, or
//! that shares inodes with a pruned one, no longer matches every stamp, and
//! those files are hashed once more (correct, only slower), never trusted.
//!
//! The stamps are taken right after unpack, when every file was just
//! written and checked against its digest or linked after a check, and
//! kept at seal only for files whose `stat` has not moved in between: a
//! `checks` command that edits a shipped file loses its stamp, so the edit
//! is never vouched for.

use crate::{EntryKind, Manifest};
use hoist_beneath::Dir;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// One file's `stat`, as far as its content is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Inode number: a file replaced by another is another inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Last content change, in nanoseconds since the epoch.
    pub mtime: i64,
    /// Last inode change (content, mode, links, times), in nanoseconds.
    pub ctime: i64,
}

impl Stamp {
    /// The stamp of what `metadata` describes.
    pub fn of(metadata: &Metadata) -> Stamp {
        let nanos = |seconds: i64, nanos: i64| seconds.saturating_mul(1_000_000_000) + nanos;
        Stamp {
            ino: metadata.ino(),
            size: metadata.len(),
            mtime: nanos(metadata.mtime(), metadata.mtime_nsec()),
            ctime: nanos(metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

/// The stamps of a release's shipped files, by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamps {
    /// Format version, so a future hoist can ignore what it cannot read.
    pub format: u32,
    /// Stamp of each regular file listed in the manifest.
    pub files: BTreeMap<String, Stamp>,
}

impl Stamps {
    /// The current format.
    pub const FORMAT: u32 = 1;

    /// Stamps every regular file `manifest` lists under `tree` (reached
    /// through no symlink); a file that cannot be read gets none.
    pub fn take(tree: &Dir, manifest: &Manifest) -> Stamps {
        let paths: Vec<&str> = manifest
            .files
            .iter()
            .filter(|entry| entry.kind == EntryKind::File)
            .map(|entry| entry.path.as_str())
            .collect();
        let files = paths
            .iter()
            .zip(stamps_at(tree, &paths))
            .filter_map(|(path, stamp)| Some(((*path).to_owned(), stamp?)))
            .collect();
        Stamps {
            format: Stamps::FORMAT,
            files,
        }
    }

    /// Drops every stamp whose file's `stat` moved since it was taken.
    pub fn keep_unmoved(&mut self, tree: &Dir) {
        for path in self.moved(tree) {
            self.files.remove(&path);
        }
    }

    /// The paths whose file's `stat` moved since the stamp was taken (written,
    /// chmodded, linked, replaced, removed or no longer a file), in path
    /// order: one `fstatat` each, on all cores.
    pub fn moved(&self, tree: &Dir) -> Vec<String> {
        let paths: Vec<&str> = self.files.keys().map(String::as_str).collect();
        let now = stamps_at(tree, &paths);
        paths
            .iter()
            .zip(now)
            .filter(|(path, stamp)| self.files.get(**path) != stamp.as_ref())
            .map(|(path, _)| (*path).to_owned())
            .collect()
    }

    /// Whether the file at `path` under `tree` still has its stamp.
    pub fn holds(&self, tree: &Dir, path: &str) -> bool {
        self.files
            .get(path)
            .is_some_and(|stamp| stamp_at(tree, path) == Some(*stamp))
    }

    /// Whether `file`, open at `path`, still has its stamp.
    pub fn holds_open(&self, path: &str, file: &std::fs::File) -> bool {
        file.metadata()
            .is_ok_and(|metadata| self.holds_metadata(path, &metadata))
    }

    /// Whether `metadata`, of the file at `path`, still has its stamp.
    pub fn holds_metadata(&self, path: &str, metadata: &Metadata) -> bool {
        self.files
            .get(path)
            .is_some_and(|stamp| metadata.is_file() && Stamp::of(metadata) == *stamp)
    }

    /// The stamps file of the release at `tree`, if there is one it can read.
    pub fn read(tree: &Dir) -> Option<Stamps> {
        let mut file = tree.open_file(Path::new(crate::STAMPS_NAME)).ok()?;
        let stamps: Stamps = serde_json::from_reader(std::io::BufReader::new(&mut file)).ok()?;
        (stamps.format == Stamps::FORMAT).then_some(stamps)
    }

    /// The file's bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("stamps always serialize")
    }
}

/// The stamps of `paths`, in order, on all cores (a `stat` is kernel work:
/// 10,000 of them one after another cost as much as the rest of a small deploy).
fn stamps_at(tree: &Dir, paths: &[&str]) -> Vec<Option<Stamp>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8);
    let chunk = paths.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|chunk| {
                let worker = scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|path| stamp_at(tree, path))
                        .collect::<Vec<_>>()
                });
                (chunk.len(), worker)
            })
            .collect();
        // A worker that died stamps nothing: its files are hashed later, and
        // the order of the others is kept.
        workers
            .into_iter()
            .flat_map(|(len, worker)| worker.join().unwrap_or_else(|_| vec![None; len]))
            .collect()
    })
}

/// The stamp of the regular file at `path`; `None` for anything else.
fn stamp_at(tree: &Dir, path: &str) -> Option<Stamp> {
    let metadata = tree.metadata(Path::new(path)).ok()?;
    metadata.is_file().then(|| Stamp::of(&metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn manifest_of(paths: &[&str]) -> Manifest {
        let mut manifest: Manifest = serde_json::from_str(
            r#"{"format":1,"release":"20261122T101500Z-1-abc","app":"a","version":"1","revision":null,"dirty":false,"created_at":"2026-11-22T10:15:00Z","files":[],"content_digest":"","digest":""}"#,
        )
        .unwrap();
        manifest.files = paths
            .iter()
            .map(|path| crate::Entry {
                path: (*path).into(),
                kind: EntryKind::File,
                mode: 0o644,
                size: 1,
                blake3: None,
                target: None,
            })
            .collect();
        manifest
    }

    #[test]
    fn an_append_or_a_replaced_file_no_longer_holds_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b", "c"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let tree = Dir::open(dir.path()).unwrap();
        let stamps = Stamps::take(&tree, &manifest_of(&["a", "b", "c", "gone"]));
        assert_eq!(stamps.files.len(), 3, "no stamp for a missing file");
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("a"))
            .unwrap()
            .write_all(b"planted")
            .unwrap();
        std::fs::remove_file(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b"), "x").unwrap();
        assert!(!stamps.holds(&tree, "a"));
        assert!(!stamps.holds(&tree, "b"));
        assert!(stamps.holds(&tree, "c"));
        let read: Stamps = serde_json::from_slice(&stamps.to_json()).unwrap();
        assert_eq!(read, stamps);
    }

    #[test]
    fn keep_unmoved_drops_what_changed_since() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "x").unwrap();
        std::fs::write(dir.path().join("b"), "x").unwrap();
        let tree = Dir::open(dir.path()).unwrap();
        let mut stamps = Stamps::take(&tree, &manifest_of(&["a", "b"]));
        std::fs::write(dir.path().join("b"), "edited by a check").unwrap();
        stamps.keep_unmoved(&tree);
        assert_eq!(stamps.files.keys().collect::<Vec<_>>(), ["a"]);
    }
}
