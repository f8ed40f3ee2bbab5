//! What a release's own `checks` and `test` wrote into it before it was
//! sealed: `__pycache__` from `python -m py_compile`, a warmed `cache/`.
//!
//! They are not in the manifest (the artifact never had them), so without
//! a record `hoist verify` could not tell them from a planted file. The
//! record is made after the checks and tests ran, before the seal, and
//! lists every path that is neither shipped, nor a shared link, nor hoist's
//! own metadata: its kind, and for files its size and BLAKE3 digest. Verify
//! then checks shipped files strictly against the manifest and generated
//! ones against this record.

use crate::hash::hash_at;
use crate::{is_metadata, EntryKind, Manifest, StoreError};
use hoist_beneath::{Dir, Kind};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// The record of one release's generated paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generated {
    /// Format version, so a future hoist can refuse what it cannot read.
    pub format: u32,
    /// Every generated path, parents before children.
    pub entries: Vec<GeneratedEntry>,
}

/// One path the checks or tests wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedEntry {
    /// Relative to the release, `/`-separated.
    pub path: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// Size in bytes (files only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// BLAKE3 hex digest (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// Link target (symlinks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

fn is_zero(size: &u64) -> bool {
    *size == 0
}

/// "a FIFO", "a socket", "a device file": what a walk's `Other` is.
/// What a path that is neither a file, a directory nor a symlink is, as a
/// message says it: "a FIFO".
pub fn special_kind(path: &Path) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path).map(|meta| meta.file_type()) {
        Ok(kind) if kind.is_fifo() => "a FIFO",
        Ok(kind) if kind.is_socket() => "a socket",
        Ok(kind) if kind.is_block_device() || kind.is_char_device() => "a device file",
        _ => "neither a file, a directory nor a symlink",
    }
}

impl Generated {
    /// The current format.
    pub const FORMAT: u32 = 1;

    /// Records every path under `tree` that `manifest` does not list and
    /// that is not in `skip` (shared links) or hoist's metadata. Devices,
    /// fifos and sockets, and links leading out of the release, are
    /// refused: a sealed release could not be verified or repaired with them.
    pub fn scan(tree: &Dir, manifest: &Manifest, skip: &[String]) -> Result<Generated, StoreError> {
        let walked = tree
            .walk()
            .map_err(StoreError::io("cannot read", tree.path()))?;
        Generated::from_walk(tree, &walked, manifest, skip)
    }

    /// [`Generated::scan`] of a walk the caller already made of `tree`.
    pub fn from_walk(
        tree: &Dir,
        walked: &[hoist_beneath::Entry],
        manifest: &Manifest,
        skip: &[String],
    ) -> Result<Generated, StoreError> {
        let root = tree.path().to_owned();
        let listed: HashSet<&str> = manifest.files.iter().map(|e| e.path.as_str()).collect();
        let mut entries = Vec::new();
        for item in walked {
            let Some(path) = item.path.to_str().map(str::to_owned) else {
                continue; // not UTF-8: never recorded, so verify names it as extra
            };
            if listed.contains(path.as_str()) || is_metadata(&path) || skip.contains(&path) {
                continue;
            }
            let entry = match item.kind {
                Kind::Dir => GeneratedEntry::new(path, EntryKind::Dir),
                Kind::Symlink => {
                    let target = tree
                        .read_link(&item.path)
                        .map_err(StoreError::io("cannot read link", root.join(&item.path)))?;
                    GeneratedEntry {
                        target: Some(target.to_string_lossy().into_owned()),
                        ..GeneratedEntry::new(path, EntryKind::Symlink)
                    }
                }
                Kind::File => {
                    let (size, digest) = hash_at(tree, &item.path)?;
                    GeneratedEntry {
                        size,
                        blake3: Some(digest),
                        ..GeneratedEntry::new(path, EntryKind::File)
                    }
                }
                Kind::Other => {
                    return Err(StoreError::GeneratedUnsafe {
                        problem: format!("which is {}", special_kind(&root.join(&path))),
                        path,
                    })
                }
            };
            entries.push(entry);
        }
        let links: Vec<(&str, &str)> = entries
            .iter()
            .filter_map(|entry| Some((entry.path.as_str(), entry.target.as_deref()?)))
            .collect();
        let mounts: Vec<&str> = skip.iter().map(String::as_str).collect();
        crate::links::check_more_links(manifest, &links, &mounts).map_err(|escape| {
            StoreError::GeneratedUnsafe {
                path: escape.entry,
                problem: format!("a symlink that {}", escape.problem),
            }
        })?;
        Ok(Generated {
            entries,
            ..Generated::empty()
        })
    }

    /// A record of nothing generated.
    pub fn empty() -> Generated {
        Generated {
            format: Generated::FORMAT,
            entries: Vec::new(),
        }
    }

    /// The record of the release at `tree`; an empty one when it has none
    /// (releases sealed before hoist kept it, or whose checks wrote nothing).
    pub fn read(tree: &Dir) -> Result<Generated, StoreError> {
        let path = tree.path().join(crate::GENERATED_NAME);
        let file = match tree.open_file(Path::new(crate::GENERATED_NAME)) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Generated::empty())
            }
            Err(error) => return Err(StoreError::io("cannot open", path)(error)),
        };
        let generated: Generated = serde_json::from_reader(std::io::BufReader::new(file))
            .map_err(|error| StoreError::io("cannot read", &path)(error.into()))?;
        if generated.format != Generated::FORMAT {
            let error = std::io::Error::other(format!(
                "format {} is not supported; upgrade hoist",
                generated.format
            ));
            return Err(StoreError::io("cannot read", path)(error));
        }
        Ok(generated)
    }

    /// The file's bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("the record always serializes")
    }

    /// The entry for `path`.
    pub fn entry(&self, path: &str) -> Option<&GeneratedEntry> {
        self.entries.iter().find(|entry| entry.path == path)
    }

    /// Whether the path recorded by `entry` is still what the checks left.
    pub fn still_holds(tree: &Dir, entry: &GeneratedEntry) -> Result<bool, StoreError> {
        let relative = Path::new(&entry.path);
        let Ok(metadata) = tree.metadata(relative) else {
            return Ok(false);
        };
        Ok(match entry.kind {
            EntryKind::Dir => metadata.is_dir(),
            EntryKind::Symlink => {
                metadata.is_symlink()
                    && tree
                        .read_link(relative)
                        .ok()
                        .map(|target| target.to_string_lossy().into_owned())
                        == entry.target
            }
            EntryKind::File => {
                metadata.is_file()
                    && metadata.len() == entry.size
                    && hash_at(tree, relative)?.1.as_str() == entry.blake3.as_deref().unwrap_or("")
            }
        })
    }
}

impl GeneratedEntry {
    fn new(path: String, kind: EntryKind) -> GeneratedEntry {
        GeneratedEntry {
            path,
            kind,
            size: 0,
            blake3: None,
            target: None,
        }
    }
}
