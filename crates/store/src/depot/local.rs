//! Where a host finds a file content it already has: a part received
//! earlier, or a file of a release on disk that its manifest lists under
//! that digest. Trusted for `need`, verified while assembling.

use super::{check_digest, Depot, ShipError};
use crate::{EntryKind, Manifest, MANIFEST_NAME};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Each distinct file content of `manifest`, by digest, with its size.
pub(crate) fn wanted(manifest: &Manifest) -> Result<BTreeMap<String, u64>, ShipError> {
    let mut wanted = BTreeMap::new();
    for entry in &manifest.files {
        if entry.kind != EntryKind::File {
            continue;
        }
        let Some(digest) = entry.blake3.as_deref() else {
            return Err(ShipError::BadManifest {
                detail: format!("file `{}` has no digest", entry.path),
            });
        };
        check_digest(digest)?;
        if *wanted.entry(digest.to_owned()).or_insert(entry.size) != entry.size {
            return Err(ShipError::BadManifest {
                detail: format!("`{}` has the digest of a file of another size", entry.path),
            });
        }
    }
    Ok(wanted)
}

/// One place a content may be read from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// `parts/<digest>`.
    Part(PathBuf),
    /// A file of a release on disk: the release dir and the path in it.
    Release(PathBuf, String),
}

impl Source {
    /// Where it is, for messages.
    pub(crate) fn path(&self) -> PathBuf {
        match self {
            Source::Part(path) => path.clone(),
            Source::Release(dir, path) => dir.join(path),
        }
    }

    fn has(&self, size: u64) -> bool {
        std::fs::symlink_metadata(self.path())
            .is_ok_and(|metadata| metadata.is_file() && metadata.len() == size)
    }

    /// Opens it, in a release through no symlink, if it is a file of `size` bytes.
    pub(crate) fn open(&self, size: u64) -> Option<File> {
        let file = match self {
            Source::Part(path) => File::open(path).ok()?,
            Source::Release(dir, path) => hoist_beneath::Dir::open(dir)
                .ok()?
                .open_file(Path::new(path))
                .ok()?,
        };
        let metadata = file.metadata().ok()?;
        (metadata.is_file() && metadata.len() == size).then_some(file)
    }
}

/// Every place each wanted content may be read from, parts first.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    by_digest: HashMap<String, Vec<Source>>,
}

impl Sources {
    /// Looks in the depot's parts and in every release's manifest.
    pub(crate) fn find(depot: &Depot, wanted: &BTreeMap<String, u64>) -> Sources {
        let mut sources = Sources::default();
        for digest in wanted.keys() {
            let part = depot.part(digest);
            if part.exists() {
                sources.add(digest, Source::Part(part));
            }
        }
        // An unreadable releases dir or manifest just means nothing is reused from it.
        let Ok(listing) = std::fs::read_dir(&depot.releases) else {
            return sources;
        };
        let mut releases: Vec<PathBuf> = listing
            .filter_map(Result::ok)
            .filter(|item| item.file_type().is_ok_and(|kind| kind.is_dir()))
            .filter(|item| {
                let name = item.file_name().to_string_lossy().into_owned();
                !name.starts_with('.')
                    && !name.ends_with(".partial")
                    && !name.ends_with(".deleting")
            })
            .map(|item| item.path())
            .collect();
        // Newest first: the live release is the likeliest to be intact.
        releases.sort_unstable_by(|a, b| b.cmp(a));
        for dir in releases {
            let Some(manifest) = std::fs::read(dir.join(MANIFEST_NAME))
                .ok()
                .and_then(|json| Manifest::from_json(&json).ok())
            else {
                continue;
            };
            for entry in manifest.files {
                let known = entry.kind == EntryKind::File
                    && entry.blake3.as_ref().and_then(|digest| wanted.get(digest))
                        == Some(&entry.size);
                if known {
                    let digest = entry.blake3.expect("checked above");
                    sources.add(&digest, Source::Release(dir.clone(), entry.path));
                }
            }
        }
        sources
    }

    fn add(&mut self, digest: &str, source: Source) {
        self.by_digest
            .entry(digest.to_owned())
            .or_default()
            .push(source);
    }

    /// Whether some source looks like it holds `digest` (by its size).
    pub(crate) fn has(&self, digest: &str, size: u64) -> bool {
        self.of(digest).iter().any(|source| source.has(size))
    }

    /// The places `digest` may be read from, parts first.
    pub(crate) fn of(&self, digest: &str) -> &[Source] {
        self.by_digest.get(digest).map_or(&[], Vec::as_slice)
    }
}
