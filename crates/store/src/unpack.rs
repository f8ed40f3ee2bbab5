//! Reading an artifact: manifest checks up front, then a verified, streaming unpack.

use crate::format::Format;
use crate::hash::copy_hashing;
use crate::seekable::{self, Frame};
use crate::{paths, release_mode, Entry, EntryKind, Manifest, StoreError, MANIFEST_NAME};
use hoist_beneath::Dir;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Files written from the artifact.
    pub files_written: u64,
    /// Bytes written from the artifact.
    pub bytes_written: u64,
    /// Files hard-linked from the previous release because they were unchanged.
    pub files_linked: u64,
    /// Files the previous release's manifest lists as unchanged whose copy
    /// there no longer matches it (edited in place): written fresh from the
    /// artifact instead of linked, so the edit does not spread.
    pub stale_in_previous: Vec<String>,
    /// Files of the previous release whose seal stamp no longer held (or
    /// that had none), so they were read and hashed before being linked.
    pub files_rehashed: u64,
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
        if name != MANIFEST_NAME.as_bytes() {
            return Err(StoreError::NotAnArtifact {
                path: path.to_owned(),
                format: Format::Zstd.describe(),
            });
        }
        if first.size() > MAX_MANIFEST_BYTES {
            return Err(corrupt(format!("its `{MANIFEST_NAME}` is too large")));
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

    /// This artifact under another name, when `path` is a hard link to the
    /// very file [`Artifact::open`] checked: nothing needs reading again.
    /// `None` when `path` is another file (a copy), which must be opened and
    /// checked on its own.
    pub fn linked_at(&self, path: &Path) -> Option<Artifact> {
        use std::os::unix::fs::MetadataExt;
        let (checked, other) = (fs::metadata(&self.path).ok()?, fs::metadata(path).ok()?);
        (checked.dev() == other.dev() && checked.ino() == other.ino()).then(|| Artifact {
            path: path.to_owned(),
            manifest: self.manifest.clone(),
        })
    }

    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The artifact file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn unsafe_entry(&self, entry: &str, problem: impl Into<String>) -> StoreError {
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
            if crate::is_metadata(&entry.path) {
                return Err(
                    self.unsafe_entry(&entry.path, "shadows the manifest or hoist's own records")
                );
            }
        }
        crate::check_links(&self.manifest, &[])
            .map_err(|escape| self.unsafe_entry(&escape.entry, escape.problem))?;
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
    /// dir and its manifest) are hard-linked from it rather than written;
    /// with a frame index their compressed bytes are not even decoded.
    /// `on_file` is called with the bytes of each file handled, for progress.
    /// On error `dest` is left for the caller to remove.
    ///
    /// Every path is created beneath `dest` through no symlink
    /// ([`hoist_beneath`]), and links from `previous` are made through none
    /// either, so nothing an artifact names can land outside the release.
    pub fn unpack(
        &self,
        dest: &Path,
        previous: Option<(&Path, &Manifest)>,
        on_file: &mut dyn FnMut(u64),
    ) -> Result<UnpackStats, StoreError> {
        fs::create_dir(dest).map_err(StoreError::io("cannot create", dest))?;
        let tree = Dir::open(dest).map_err(StoreError::io("cannot open", dest))?;
        // A previous release that cannot be opened just means nothing is linked.
        let previous = previous.and_then(|(dir, manifest)| {
            let dir = Dir::open(dir).ok()?;
            let reusable = crate::reuse::check(&dir, manifest, &self.manifest);
            Some((dir, reusable))
        });
        let mut file =
            File::open(&self.path).map_err(StoreError::io("cannot open artifact", &self.path))?;
        let mut writer = TreeWriter {
            artifact: self,
            tree,
            previous,
            on_file,
            stats: UnpackStats::default(),
            dirs: HashSet::new(),
        };
        writer
            .create_file(MANIFEST_NAME, 0o444)?
            .write_all(&self.manifest.to_json())
            .map_err(StoreError::io("cannot write", dest.join(MANIFEST_NAME)))?;
        match seekable::read_index(&mut file) {
            Ok(Some(frames)) if frames.len() == self.manifest.files.len() + 2 => {
                writer.write_from_frames(&file, &frames[1..])?
            }
            _ => writer.write_from_stream()?,
        }
        let mut stats = writer.stats;
        if let Some((_, reusable)) = writer.previous {
            stats.stale_in_previous = reusable.stale;
            stats.files_rehashed = reusable.hashed;
        }
        Ok(stats)
    }
}

/// Writes one release tree, from either artifact layout, with one set of checks.
struct TreeWriter<'a> {
    artifact: &'a Artifact,
    /// The release being written, every path resolved beneath it.
    tree: Dir,
    /// The live release, and which of its files may be linked.
    previous: Option<(Dir, crate::reuse::Reusable)>,
    on_file: &'a mut dyn FnMut(u64),
    stats: UnpackStats,
    /// Dirs this unpack created: every entry's parent must be one, so no
    /// entry can be routed through a symlink.
    dirs: HashSet<String>,
}

impl TreeWriter<'_> {
    fn corrupt(&self, error: std::io::Error) -> StoreError {
        StoreError::Corrupt {
            path: self.artifact.path.clone(),
            detail: error.to_string(),
        }
    }

    /// Seeks to each entry's frame; unchanged files are linked without decoding.
    fn write_from_frames(&mut self, file: &File, frames: &[Frame]) -> Result<(), StoreError> {
        let manifest = &self.artifact.manifest;
        for (entry, frame) in manifest.files.iter().zip(frames) {
            self.check_parent(&entry.path)?;
            if entry.kind != EntryKind::File {
                self.make_dir_or_link(entry)?;
                continue;
            }
            if self.link_unchanged(entry)? {
                continue;
            }
            let reader = seekable::open_frame(file, *frame).map_err(|error| self.corrupt(error))?;
            let mut archive = tar::Archive::new(reader);
            let mut entries = archive.entries().map_err(|error| self.corrupt(error))?;
            let mut tar_entry = match entries.next() {
                Some(Ok(tar_entry)) => tar_entry,
                Some(Err(error)) => return Err(self.corrupt(error)),
                None => return Err(self.corrupt(std::io::ErrorKind::UnexpectedEof.into())),
            };
            let name = self.entry_name(&tar_entry)?;
            if name != entry.path
                || entry_kind(&tar_entry, self.artifact, &name)? != EntryKind::File
            {
                return Err(self.artifact.unsafe_entry(
                    &name,
                    format!("sits where the index places `{}`", entry.path),
                ));
            }
            self.write_file(entry, &mut tar_entry)?;
        }
        Ok(())
    }

    /// Reads the whole stream: for artifacts without a frame index.
    fn write_from_stream(&mut self) -> Result<(), StoreError> {
        let mut archive = open_archive(&self.artifact.path)?;
        let mut entries = archive.entries().map_err(|error| self.corrupt(error))?;
        entries.next(); // the manifest, checked by `open`
        let mut seen: HashSet<String> = HashSet::with_capacity(self.artifact.manifest.files.len());
        for tar_entry in entries {
            let mut tar_entry = tar_entry.map_err(|error| self.corrupt(error))?;
            let name = self.entry_name(&tar_entry)?;
            let kind = entry_kind(&tar_entry, self.artifact, &name)?;
            let Some(entry) = self.artifact.manifest.entry(&name) else {
                return Err(self
                    .artifact
                    .unsafe_entry(&name, "is not listed in the manifest"));
            };
            if entry.kind != kind || !seen.insert(name.clone()) {
                return Err(self
                    .artifact
                    .unsafe_entry(&name, "does not match its manifest entry"));
            }
            self.check_parent(&name)?;
            match kind {
                EntryKind::File if self.link_unchanged(entry)? => {}
                EntryKind::File => self.write_file(entry, &mut tar_entry)?,
                _ => self.make_dir_or_link(entry)?,
            }
        }
        let manifest = &self.artifact.manifest;
        if let Some(missing) = manifest
            .files
            .iter()
            .find(|entry| !seen.contains(&entry.path))
        {
            let count = manifest
                .files
                .iter()
                .filter(|entry| !seen.contains(&entry.path))
                .count();
            let detail = format!(
                "{count} manifest entries are missing from it, starting with `{}`",
                missing.path
            );
            return Err(StoreError::Corrupt {
                path: self.artifact.path.clone(),
                detail,
            });
        }
        // Reading to the end makes zstd check its frame checksum.
        std::io::copy(&mut archive.into_inner(), &mut std::io::sink())
            .map_err(|error| self.corrupt(error))?;
        Ok(())
    }

    fn entry_name<R: Read>(&self, tar_entry: &tar::Entry<'_, R>) -> Result<String, StoreError> {
        let raw = tar_entry.path_bytes().into_owned();
        let name = String::from_utf8(raw).map_err(|_| {
            self.artifact
                .unsafe_entry("<non-UTF-8>", "has a non-UTF-8 path")
        })?;
        let name = name.trim_end_matches('/').to_owned();
        paths::check_relative(&name)
            .map_err(|problem| self.artifact.unsafe_entry(&name, problem))?;
        Ok(name)
    }

    fn check_parent(&self, path: &str) -> Result<(), StoreError> {
        let parent = Path::new(path)
            .parent()
            .and_then(Path::to_str)
            .unwrap_or_default();
        if parent.is_empty() || self.dirs.contains(parent) {
            return Ok(());
        }
        // Say why: a parent that is a link or a file is not a late directory.
        let problem = match self.artifact.manifest.entry(parent).map(|entry| entry.kind) {
            Some(EntryKind::Symlink) => format!("lies under `{parent}`, which is a symlink"),
            Some(EntryKind::File) => format!("lies under `{parent}`, which is a file"),
            _ => "comes before its parent directory".to_owned(),
        };
        Err(self.artifact.unsafe_entry(path, problem))
    }

    fn make_dir_or_link(&mut self, entry: &Entry) -> Result<(), StoreError> {
        let relative = Path::new(&entry.path);
        if entry.kind == EntryKind::Dir {
            // Writable until sealed, so later entries can be created inside.
            let mode = release_mode(entry.mode) | 0o700;
            self.tree
                .create_dir(relative, mode)
                .map_err(|error| self.refused(entry, "cannot create", error))?;
            self.dirs.insert(entry.path.clone());
        } else {
            let link = entry.target.as_deref().unwrap_or_default();
            self.tree
                .symlink(Path::new(link), relative)
                .map_err(|error| self.refused(entry, "cannot create link", error))?;
        }
        Ok(())
    }

    /// Hard-links `entry` from the previous release when it is unchanged
    /// there, by both manifests and by its bytes on disk.
    fn link_unchanged(&mut self, entry: &Entry) -> Result<bool, StoreError> {
        let Some((previous, reusable)) = &self.previous else {
            return Ok(false);
        };
        if !reusable.paths.contains(&entry.path) {
            return Ok(false);
        }
        let relative = Path::new(&entry.path);
        // Anything but a plain file reached through plain dirs (a shared
        // link now stands where the old release had the file, say) is
        // written from the artifact instead.
        if self
            .tree
            .hard_link_from(previous, relative, relative)
            .is_err()
        {
            return Ok(false);
        }
        self.stats.files_linked += 1;
        (self.on_file)(entry.size);
        Ok(true)
    }

    fn create_file(&self, path: &str, mode: u32) -> Result<File, StoreError> {
        self.tree
            .create_file(Path::new(path), mode)
            .map_err(|error| {
                if hoist_beneath::is_through_link(&error) {
                    self.artifact
                        .unsafe_entry(path, "would be written through a symlink")
                } else {
                    StoreError::Io {
                        action: "cannot create",
                        path: self.tree.path().join(path),
                        cause: error,
                    }
                }
            })
    }

    /// The error for `entry` when the tree refused an operation.
    fn refused(&self, entry: &Entry, action: &'static str, error: std::io::Error) -> StoreError {
        if hoist_beneath::is_through_link(&error) {
            self.artifact
                .unsafe_entry(&entry.path, "would be created through a symlink")
        } else {
            StoreError::Io {
                action,
                path: self.tree.path().join(&entry.path),
                cause: error,
            }
        }
    }

    fn write_file(&mut self, entry: &Entry, data: &mut dyn Read) -> Result<(), StoreError> {
        let target = self.tree.path().join(&entry.path);
        let mut file = self.create_file(&entry.path, release_mode(entry.mode))?;
        let (size, digest) = copy_hashing(&mut Read::take(data, entry.size + 1), &mut file)
            .map_err(|error| {
                if error.kind() == std::io::ErrorKind::StorageFull {
                    StoreError::Io {
                        action: "cannot write",
                        path: target.clone(),
                        cause: error,
                    }
                } else {
                    self.corrupt(error)
                }
            })?;
        if size != entry.size || entry.blake3.as_deref() != Some(digest.as_str()) {
            return Err(StoreError::DigestMismatch {
                artifact: self.artifact.path.clone(),
                entry: entry.path.clone(),
            });
        }
        self.stats.files_written += 1;
        self.stats.bytes_written += size;
        (self.on_file)(size);
        Ok(())
    }
}

pub(crate) fn entry_kind<R: Read>(
    tar_entry: &tar::Entry<'_, R>,
    artifact: &Artifact,
    name: &str,
) -> Result<EntryKind, StoreError> {
    match tar_entry.header().entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => Ok(EntryKind::File),
        tar::EntryType::Directory => Ok(EntryKind::Dir),
        tar::EntryType::Symlink => Ok(EntryKind::Symlink),
        tar::EntryType::Char | tar::EntryType::Block => Err(artifact.unsafe_entry(
            name,
            "is a device file; releases may hold only files, dirs and links",
        )),
        tar::EntryType::Link => Err(artifact.unsafe_entry(
            name,
            "is a hard link; releases may hold only files, dirs and links",
        )),
        other => Err(artifact.unsafe_entry(name, format!("has unsupported tar type {other:?}"))),
    }
}

pub(crate) fn open_archive(path: &Path) -> Result<tar::Archive<Decoder>, StoreError> {
    let file = File::open(path).map_err(StoreError::io("cannot open artifact", path))?;
    // A tarball from another tool is not "corrupt": say what it is and how to import it.
    let format = Format::sniff(path).map_err(StoreError::io("cannot read artifact", path))?;
    if format != Format::Zstd {
        return Err(StoreError::NotAnArtifact {
            path: path.to_owned(),
            format: format.describe(),
        });
    }
    let decoder = zstd::Decoder::new(file).map_err(|error| StoreError::Corrupt {
        path: path.to_owned(),
        detail: error.to_string(),
    })?;
    Ok(tar::Archive::new(decoder))
}
