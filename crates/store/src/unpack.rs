//! Reading an artifact: manifest checks up front, then a verified, streaming unpack.

use crate::hash::copy_hashing;
use crate::{paths, release_mode, Entry, EntryKind, Manifest, StoreError, MANIFEST_NAME};
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A manifest is metadata; one this large is an attack, not a release.
const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

type Decoder = zstd::Decoder<'static, BufReader<File>>;

/// An opened artifact whose manifest has been checked.
#[derive(Debug)]
pub struct Artifact {
    path: PathBuf,
    manifest: Manifest,
}

/// What an unpack wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Files written from the artifact.
    pub files_written: u64,
    /// Bytes written from the artifact.
    pub bytes_written: u64,
    /// Files hard-linked from the previous release because they were unchanged.
    pub files_linked: u64,
}

impl Artifact {
    /// Opens `path`, reads its manifest and refuses it unless the manifest is
    /// intact, every path is safe and the unpacked size is within `max_bytes`.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Artifact, StoreError> {
        let mut archive = open_archive(path)?;
        let corrupt = |detail: String| StoreError::Corrupt {
            path: path.to_owned(),
            detail,
        };
        let mut entries = archive
            .entries()
            .map_err(|error| corrupt(error.to_string()))?;
        let mut first = match entries.next() {
            Some(Ok(first)) => first,
            Some(Err(error)) => return Err(corrupt(error.to_string())),
            None => return Err(corrupt("it holds no entries".into())),
        };
        let name = first.path_bytes().into_owned();
        if name != MANIFEST_NAME.as_bytes() || first.size() > MAX_MANIFEST_BYTES {
            return Err(corrupt(format!("its first entry is not `{MANIFEST_NAME}`")));
        }
        let mut json = Vec::with_capacity(first.size() as usize);
        first
            .read_to_end(&mut json)
            .map_err(|error| corrupt(error.to_string()))?;
        let manifest = Manifest::from_json(&json)
            .map_err(|error| corrupt(format!("unreadable manifest: {error}")))?;
        if manifest.format != Manifest::FORMAT {
            return Err(corrupt(format!(
                "manifest format {} is not supported; upgrade hoist",
                manifest.format
            )));
        }
        if !manifest.is_intact() {
            return Err(corrupt("the manifest does not match its own digest".into()));
        }
        let artifact = Artifact {
            path: path.to_owned(),
            manifest,
        };
        artifact.check_entries(max_bytes)?;
        Ok(artifact)
    }

    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The artifact file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn unsafe_entry(&self, entry: &str, problem: impl Into<String>) -> StoreError {
        StoreError::UnsafeEntry {
            artifact: self.path.clone(),
            entry: entry.to_owned(),
            problem: problem.into(),
        }
    }

    fn check_entries(&self, max_bytes: u64) -> Result<(), StoreError> {
        let sorted = self
            .manifest
            .files
            .windows(2)
            .all(|pair| pair[0].path < pair[1].path);
        if !sorted {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: "manifest entries are not sorted and unique".into(),
            });
        }
        for entry in &self.manifest.files {
            paths::check_relative(&entry.path)
                .map_err(|problem| self.unsafe_entry(&entry.path, problem))?;
            if entry.path == MANIFEST_NAME {
                return Err(self.unsafe_entry(&entry.path, "shadows the manifest"));
            }
            if entry.kind == EntryKind::Symlink {
                let target = entry.target.as_deref().unwrap_or_default();
                paths::check_link_target(&entry.path, target)
                    .map_err(|problem| self.unsafe_entry(&entry.path, problem))?;
            }
        }
        let size = self.manifest.total_bytes();
        if size > max_bytes {
            return Err(StoreError::TooLarge {
                artifact: self.path.clone(),
                size,
                limit: max_bytes,
            });
        }
        Ok(())
    }

    /// Unpacks into `dest` (which must not exist), verifying every digest.
    ///
    /// Files identical (digest and mode) to those in `previous` (a release
    /// dir and its manifest) are hard-linked from it rather than written.
    /// `on_file` is called with the bytes of each file handled, for progress.
    /// On error `dest` is left for the caller to remove.
    pub fn unpack(
        &self,
        dest: &Path,
        previous: Option<(&Path, &Manifest)>,
        on_file: &mut dyn FnMut(u64),
    ) -> Result<UnpackStats, StoreError> {
        fs::create_dir(dest).map_err(StoreError::io("cannot create", dest))?;
        let mut archive = open_archive(&self.path)?;
        let corrupt = |error: std::io::Error| StoreError::Corrupt {
            path: self.path.clone(),
            detail: error.to_string(),
        };
        let mut stats = UnpackStats::default();
        let mut seen: HashSet<String> = HashSet::with_capacity(self.manifest.files.len());
        let mut dirs: HashSet<String> = HashSet::new();
        let mut entries = archive.entries().map_err(corrupt)?;
        // The manifest entry was checked by `open`; keep its bytes as the tree's own copy.
        let mut first = entries
            .next()
            .ok_or_else(|| corrupt(std::io::ErrorKind::UnexpectedEof.into()))?
            .map_err(corrupt)?;
        let manifest_path = dest.join(MANIFEST_NAME);
        let mut manifest_file = create_file(&manifest_path, 0o444)?;
        std::io::copy(&mut first, &mut manifest_file).map_err(corrupt)?;
        drop(first);

        for tar_entry in entries {
            let mut tar_entry = tar_entry.map_err(corrupt)?;
            let raw = tar_entry.path_bytes().into_owned();
            let name = String::from_utf8(raw)
                .map_err(|_| self.unsafe_entry("<non-UTF-8>", "has a non-UTF-8 path"))?;
            let name = name.trim_end_matches('/').to_owned();
            paths::check_relative(&name).map_err(|problem| self.unsafe_entry(&name, problem))?;
            let kind = match tar_entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
                tar::EntryType::Directory => EntryKind::Dir,
                tar::EntryType::Symlink => EntryKind::Symlink,
                tar::EntryType::Char | tar::EntryType::Block => {
                    return Err(self.unsafe_entry(
                        &name,
                        "is a device file; releases may hold only files, dirs and links",
                    ))
                }
                tar::EntryType::Link => {
                    return Err(self.unsafe_entry(
                        &name,
                        "is a hard link; releases may hold only files, dirs and links",
                    ))
                }
                other => {
                    return Err(
                        self.unsafe_entry(&name, format!("has unsupported tar type {other:?}"))
                    )
                }
            };
            let Some(entry) = self.manifest.entry(&name) else {
                return Err(self.unsafe_entry(&name, "is not listed in the manifest"));
            };
            if entry.kind != kind || !seen.insert(name.clone()) {
                return Err(self.unsafe_entry(&name, "does not match its manifest entry"));
            }
            // Parents must be dirs this unpack created, so no entry can be routed through a link.
            let parent = Path::new(&name)
                .parent()
                .and_then(Path::to_str)
                .unwrap_or_default();
            if !parent.is_empty() && !dirs.contains(parent) {
                return Err(self.unsafe_entry(&name, "comes before its parent directory"));
            }
            let target = dest.join(&name);
            match kind {
                EntryKind::Dir => {
                    // Writable until sealed, so later entries can be created inside.
                    fs::create_dir(&target).map_err(StoreError::io("cannot create", &target))?;
                    fs::set_permissions(
                        &target,
                        fs::Permissions::from_mode(release_mode(entry.mode) | 0o700),
                    )
                    .map_err(StoreError::io("cannot chmod", &target))?;
                    dirs.insert(name);
                }
                EntryKind::Symlink => {
                    let link = entry.target.as_deref().unwrap_or_default();
                    std::os::unix::fs::symlink(link, &target)
                        .map_err(StoreError::io("cannot create link", &target))?;
                }
                EntryKind::File => {
                    if tar_entry.size() != entry.size {
                        return Err(StoreError::DigestMismatch {
                            artifact: self.path.clone(),
                            entry: name,
                        });
                    }
                    if let Some(source) = unchanged_in(previous, entry) {
                        if fs::hard_link(&source, &target).is_ok() {
                            stats.files_linked += 1;
                            on_file(entry.size);
                            continue;
                        }
                    }
                    let mut file = create_file(&target, release_mode(entry.mode))?;
                    let (size, digest) =
                        copy_hashing(&mut tar_entry, &mut file).map_err(|error| {
                            if error.kind() == std::io::ErrorKind::StorageFull {
                                StoreError::Io {
                                    action: "cannot write",
                                    path: target.clone(),
                                    source: error,
                                }
                            } else {
                                corrupt(error)
                            }
                        })?;
                    if size != entry.size || entry.blake3.as_deref() != Some(digest.as_str()) {
                        return Err(StoreError::DigestMismatch {
                            artifact: self.path.clone(),
                            entry: name,
                        });
                    }
                    stats.files_written += 1;
                    stats.bytes_written += size;
                    on_file(size);
                }
            }
        }
        if let Some(missing) = self
            .manifest
            .files
            .iter()
            .find(|entry| !seen.contains(&entry.path))
        {
            let count = self
                .manifest
                .files
                .iter()
                .filter(|entry| !seen.contains(&entry.path))
                .count();
            let detail = format!(
                "{count} manifest entries are missing from it, starting with `{}`",
                missing.path
            );
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail,
            });
        }
        // Reading to the end makes zstd check its frame checksum.
        drain(archive.into_inner()).map_err(corrupt)?;
        Ok(stats)
    }
}

fn open_archive(path: &Path) -> Result<tar::Archive<Decoder>, StoreError> {
    let file = File::open(path).map_err(StoreError::io("cannot open artifact", path))?;
    let decoder = zstd::Decoder::new(file).map_err(|error| StoreError::Corrupt {
        path: path.to_owned(),
        detail: error.to_string(),
    })?;
    Ok(tar::Archive::new(decoder))
}

fn drain(mut decoder: Decoder) -> std::io::Result<()> {
    std::io::copy(&mut decoder, &mut std::io::sink()).map(|_| ())
}

fn create_file(path: &Path, mode: u32) -> Result<File, StoreError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(StoreError::io("cannot create", path))
}

/// The previous release's copy of `entry`, if it is byte- and mode-identical.
fn unchanged_in(previous: Option<(&Path, &Manifest)>, entry: &Entry) -> Option<PathBuf> {
    let (dir, manifest) = previous?;
    let old = manifest.entry(&entry.path)?;
    (old.kind == EntryKind::File
        && old.blake3 == entry.blake3
        && old.size == entry.size
        && old.mode == entry.mode)
        .then(|| dir.join(&entry.path))
}
