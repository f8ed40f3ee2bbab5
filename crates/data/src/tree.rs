//! Copying a source tree into a new version: unchanged files are
//! hard-linked from the previous version, the rest copied while hashed.

use crate::DataError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One path in a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Relative to the version root, `/`-separated.
    pub path: String,
    /// `file`, `dir` or `symlink`.
    pub kind: String,
    /// Bytes (files).
    pub size: u64,
    /// Permission bits as loaded (before sealing).
    pub mode: u32,
    /// BLAKE3 of the content (files) or of the link target (symlinks).
    pub blake3: String,
}

/// What a copy did.
#[derive(Debug, Default)]
pub(crate) struct Copied {
    pub(crate) entries: Vec<Entry>,
    pub(crate) files_written: u64,
    pub(crate) files_linked: u64,
    pub(crate) bytes_written: u64,
    /// Written (not linked) files, for verification after the sync.
    pub(crate) written: Vec<(PathBuf, String)>,
}

/// The source's files and their sizes, to plan and show progress.
pub(crate) fn total_bytes(src: &Path) -> u64 {
    walkdir::WalkDir::new(src)
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| entry.metadata().ok())
        .map(|metadata| metadata.len())
        .sum()
}

/// A previous version to link unchanged files from.
pub(crate) struct Previous<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) entries: HashMap<&'a str, &'a Entry>,
}

/// What a version's paths are relative to: a directory itself, or a
/// single file's parent (a file lands under its own name).
fn roots(src: &Path, is_file: bool) -> (PathBuf, PathBuf) {
    if is_file {
        (
            src.parent().unwrap_or(Path::new(".")).to_owned(),
            src.to_owned(),
        )
    } else {
        (src.to_owned(), src.to_owned())
    }
}

/// BLAKE3 of a symlink's target, as a version records it.
fn link_hash(link: &Path) -> String {
    blake3::hash(link.as_os_str().as_encoded_bytes())
        .to_hex()
        .to_string()
}

/// A source read without copying it: what a fleet load asks every host
/// about (by [`digest`]) before it sends anything.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// What [`Entry::path`] is relative to.
    pub root: PathBuf,
    /// Every path, as a load of the same source would record it.
    pub entries: Vec<Entry>,
}

impl Scanned {
    /// The content digest a load of this source gets.
    pub fn digest(&self) -> String {
        digest(&self.entries)
    }

    /// Total file bytes.
    pub fn bytes(&self) -> u64 {
        self.entries.iter().map(|entry| entry.size).sum()
    }

    /// Regular files.
    pub fn files(&self) -> u64 {
        self.entries.iter().filter(|e| e.kind == "file").count() as u64
    }
}

/// Walks `src` (a file or a directory) in name order, calling `visit` with
/// each entry's path relative to the returned root, its path, and its own
/// (not followed) metadata. What is neither a file, a directory nor a
/// symlink is refused. [`scan`] and [`copy_tree`] both read a source
/// through this, so their digests cannot drift apart.
fn walk_source(
    src: &Path,
    visit: &mut dyn FnMut(&Path, &Path, &std::fs::Metadata) -> Result<(), DataError>,
) -> Result<PathBuf, DataError> {
    let metadata = std::fs::metadata(src).map_err(DataError::io("cannot read", src))?;
    // A single file lands under its own name, so the app always opens `$HOIST_DATA/<name>`.
    let (root, walk_root) = roots(src, metadata.is_file());
    let walk = walkdir::WalkDir::new(&walk_root)
        .follow_links(false)
        .sort_by_file_name();
    for item in walk {
        let item = item.map_err(|error| DataError::Io {
            action: "cannot walk",
            path: error.path().unwrap_or(src).to_owned(),
            cause: error.into(),
        })?;
        let relative = item.path().strip_prefix(&root).unwrap_or(item.path());
        if relative.as_os_str().is_empty() {
            continue;
        }
        let metadata = item
            .path()
            .symlink_metadata()
            .map_err(DataError::io("cannot stat", item.path()))?;
        let kind = metadata.file_type();
        if !(kind.is_dir() || kind.is_symlink() || kind.is_file()) {
            return Err(DataError::Io {
                action: "cannot load (not a file, directory or symlink)",
                path: item.path().to_owned(),
                cause: std::io::ErrorKind::Unsupported.into(),
            });
        }
        visit(relative, item.path(), &metadata)?;
    }
    Ok(root)
}

/// Reads `src` (a file or a directory) as [`copy_tree`] would copy it, and
/// hashes every file, writing nothing.
pub fn scan(src: &Path) -> Result<Scanned, DataError> {
    let mut entries = Vec::new();
    let root = walk_source(src, &mut |relative, path, metadata| {
        let kind = metadata.file_type();
        let (kind, size, blake3) = if kind.is_dir() {
            ("dir", 0, String::new())
        } else if kind.is_symlink() {
            let link = std::fs::read_link(path).map_err(DataError::io("cannot read link", path))?;
            ("symlink", 0, link_hash(&link))
        } else {
            ("file", metadata.len(), hash_file(path, &mut |_| {})?)
        };
        entries.push(Entry {
            path: relative.to_string_lossy().into_owned(),
            kind: kind.into(),
            size,
            mode: metadata.permissions().mode() & 0o7777,
            blake3,
        });
        Ok(())
    })?;
    Ok(Scanned { root, entries })
}

/// Copies `src` (a file or a directory) into the empty dir `dest`.
pub(crate) fn copy_tree(
    src: &Path,
    dest: &Path,
    previous: Option<&Previous<'_>>,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Copied, DataError> {
    let mut copied = Copied::default();
    walk_source(src, &mut |relative, path, metadata| {
        let name = relative.to_string_lossy().into_owned();
        let target = dest.join(relative);
        let mode = metadata.permissions().mode() & 0o7777;
        let kind = metadata.file_type();
        let entry = if kind.is_dir() {
            std::fs::create_dir(&target).map_err(DataError::io("cannot create", &target))?;
            Entry {
                path: name,
                kind: "dir".into(),
                size: 0,
                mode,
                blake3: String::new(),
            }
        } else if kind.is_symlink() {
            let link = std::fs::read_link(path).map_err(DataError::io("cannot read link", path))?;
            std::os::unix::fs::symlink(&link, &target)
                .map_err(DataError::io("cannot create link", &target))?;
            Entry {
                path: name,
                kind: "symlink".into(),
                size: 0,
                mode,
                blake3: link_hash(&link),
            }
        } else {
            let size = metadata.len();
            let old = previous.and_then(|previous| {
                let old = previous.entries.get(name.as_str())?;
                (old.kind == "file" && old.size == size && old.mode == mode)
                    .then(|| (previous.dir.join(relative), *old))
            });
            let mut linked = None;
            if let Some((old_path, old)) = old {
                // Same size: hash the source to see whether it changed (a read, no write).
                let hash = hash_file(path, on_bytes)?;
                if hash == old.blake3 && std::fs::hard_link(&old_path, &target).is_ok() {
                    linked = Some(hash);
                }
            }
            let hash = match linked {
                Some(hash) => {
                    copied.files_linked += 1;
                    hash
                }
                None => {
                    let hash = copy_file(path, &target, mode, on_bytes)?;
                    copied.files_written += 1;
                    copied.bytes_written += size;
                    copied.written.push((target.clone(), hash.clone()));
                    hash
                }
            };
            Entry {
                path: name,
                kind: "file".into(),
                size,
                mode,
                blake3: hash,
            }
        };
        copied.entries.push(entry);
        Ok(())
    })?;
    Ok(copied)
}

/// Copies one file, hashing what was read; returns the hash.
fn copy_file(
    src: &Path,
    dest: &Path,
    mode: u32,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<String, DataError> {
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_for(mode)
        .open(dest)
        .map_err(DataError::io("cannot create", dest))?;
    read_hashed(src, &mut |chunk| {
        on_bytes(chunk.len() as u64);
        output
            .write_all(chunk)
            .map_err(DataError::io("cannot write", dest))
    })
}

/// BLAKE3 of a file's content.
pub(crate) fn hash_file(path: &Path, on_bytes: &mut dyn FnMut(u64)) -> Result<String, DataError> {
    read_hashed(path, &mut |chunk| {
        on_bytes(chunk.len() as u64);
        Ok(())
    })
}

/// Reads `path` in 1 MiB chunks, hashing each and handing it to `each`.
fn read_hashed(
    path: &Path,
    each: &mut dyn FnMut(&[u8]) -> Result<(), DataError>,
) -> Result<String, DataError> {
    let mut input = std::fs::File::open(path).map_err(DataError::io("cannot open", path))?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = input
            .read(&mut buffer)
            .map_err(DataError::io("cannot read", path))?;
        if read == 0 {
            return Ok(hasher.finalize().to_hex().to_string());
        }
        hasher.update(&buffer[..read]);
        each(&buffer[..read])?;
    }
}

/// The content digest of a whole version: paths, kinds, modes and hashes,
/// not times, so the same data loaded twice has the same digest.
pub fn digest(entries: &[Entry]) -> String {
    let mut hasher = blake3::Hasher::new();
    for entry in entries {
        // Write bits are not identity: every version is sealed read-only,
        // so a copy of a sealed version must digest like its source.
        let mode = match entry.kind.as_str() {
            "dir" => 0,
            _ => entry.mode & !0o222,
        };
        let line = format!(
            "{}\0{}\0{:o}\0{}\0{}\n",
            entry.path, entry.kind, mode, entry.size, entry.blake3
        );
        hasher.update(line.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// Makes a version read-only: files lose their write bits, then directories, deepest first.
pub(crate) fn seal(dir: &Path, entries: &[Entry]) -> Result<(), DataError> {
    let read_only = |mode: u32| mode & !0o222;
    for entry in entries.iter().filter(|entry| entry.kind == "file") {
        let path = dir.join(&entry.path);
        std::fs::set_permissions(
            &path,
            std::fs::Permissions::from_mode(read_only(entry.mode)),
        )
        .map_err(DataError::io("cannot seal", &path))?;
    }
    let mut dirs: Vec<&Entry> = entries.iter().filter(|entry| entry.kind == "dir").collect();
    dirs.sort_by_key(|entry| std::cmp::Reverse(entry.path.matches('/').count()));
    for entry in dirs {
        let path = dir.join(&entry.path);
        std::fs::set_permissions(
            &path,
            std::fs::Permissions::from_mode(read_only(entry.mode) | 0o555),
        )
        .map_err(DataError::io("cannot seal", &path))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))
        .map_err(DataError::io("cannot seal", dir))
}

/// Removes a sealed tree: write bits back on its directories first.
pub(crate) fn remove(dir: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if entry.file_type().is_dir() {
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o755));
        }
    }
    std::fs::remove_dir_all(dir)
}

trait ModeFor {
    fn mode_for(&mut self, mode: u32) -> &mut Self;
}

impl ModeFor for std::fs::OpenOptions {
    /// Created owner-writable whatever the source said; sealing drops the bit later.
    fn mode_for(&mut self, mode: u32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, mode | 0o200)
    }
}
