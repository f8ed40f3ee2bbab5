//! The artifact a host assembles from parts and older releases' files:
//! byte for byte what `hoist build` wrote, since the manifest and every
//! file's bytes are the same, and checked like any artifact before it is
//! renamed into place.

use super::local::{self, Source, Sources};
use super::{Depot, ShipError};
use crate::{Artifact, Entry, Manifest};
use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::rc::Rc;

/// Room left beside the artifact, so assembling never fills the disk to the last block.
const SLACK: u64 = 16 * 1024 * 1024;

impl Depot {
    /// Writes `<release-id>.tar.zst` from parts and releases, verifying
    /// each file's digest as it is written. Returns the digests that were
    /// missing or found damaged (then no artifact is left, damaged parts
    /// are removed, and the caller sends those). On success the parts and
    /// other releases' assembled artifacts are removed: `hoist deploy`
    /// keeps its own link to the one it deploys.
    pub(crate) fn assemble(
        &self,
        manifest: &Manifest,
        expect_bytes: Option<u64>,
    ) -> Result<Vec<String>, ShipError> {
        let wanted = local::wanted(manifest)?;
        let sources = Sources::find(self, &wanted);
        let absent: Vec<String> = wanted
            .iter()
            .filter(|(digest, size)| !sources.has(digest, **size))
            .map(|(digest, _)| digest.clone())
            .collect();
        if !absent.is_empty() {
            return Ok(absent);
        }
        self.check_space(expect_bytes.unwrap_or_else(|| manifest.total_bytes()))?;

        let target = self.artifact_path(manifest);
        let partial = self
            .dir
            .join(format!(".{}.tar.zst.partial", manifest.release));
        let damaged: Rc<RefCell<Vec<(String, Source)>>> = Rc::default();
        let mut lacking = Vec::new();
        let mut open = |entry: &Entry| -> std::io::Result<Box<dyn Read>> {
            let digest = entry.blake3.clone().unwrap_or_default();
            let found = sources
                .of(&digest)
                .iter()
                .find_map(|source| Some((source.clone(), source.open(entry.size)?)));
            Ok(match found {
                Some((source, file)) => Box::new(Verified {
                    file,
                    hasher: blake3::Hasher::new(),
                    read: 0,
                    size: entry.size,
                    digest,
                    source,
                    damaged: damaged.clone(),
                }),
                // Gone since `has` looked: filler keeps the pass going so
                // every lacking file is named at once; the result is dropped.
                None => {
                    lacking.push(digest);
                    Box::new(std::io::repeat(0).take(entry.size))
                }
            })
        };
        let written = crate::pack::write_artifact(&partial, manifest, &mut open);
        let damaged = damaged.take();
        if written.is_err() || !damaged.is_empty() || !lacking.is_empty() {
            let _ = std::fs::remove_file(&partial);
            written?;
            for (_, source) in &damaged {
                if let Source::Part(path) = source {
                    let _ = std::fs::remove_file(path);
                }
            }
            let mut missing: Vec<String> = lacking;
            missing.extend(damaged.into_iter().map(|(digest, _)| digest));
            missing.sort();
            missing.dedup();
            return Ok(missing);
        }
        // Checked as `hoist deploy` will: paths, links, the manifest's own digest.
        Artifact::open(&partial, u64::MAX).inspect_err(|_| {
            let _ = std::fs::remove_file(&partial);
        })?;
        std::fs::rename(&partial, &target).map_err(ShipError::io("cannot rename into", &target))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(ShipError::io("cannot fsync", &self.dir))?;
        self.tidy(&target);
        Ok(Vec::new())
    }

    fn check_space(&self, artifact: u64) -> Result<(), ShipError> {
        let stat = rustix::fs::statvfs(&self.dir).map_err(|errno| ShipError::Io {
            action: "cannot stat file system of",
            path: self.dir.clone(),
            cause: errno.into(),
        })?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        let needed = artifact.saturating_add(SLACK);
        if free < needed {
            return Err(ShipError::NoSpace {
                dir: self.dir.clone(),
                free,
                needed,
            });
        }
        Ok(())
    }

    /// Best effort: every part and kept manifest, and other releases'
    /// assembled artifacts.
    fn tidy(&self, keep: &std::path::Path) {
        for dir in [self.parts_dir(), self.manifests_dir(), self.dir.clone()] {
            let Ok(listing) = std::fs::read_dir(&dir) else {
                continue;
            };
            for item in listing.filter_map(Result::ok) {
                let path = item.path();
                let name = item.file_name().to_string_lossy().into_owned();
                let stale = if dir == self.dir {
                    name.ends_with(".tar.zst") && path != keep
                } else {
                    item.file_type().is_ok_and(|kind| kind.is_file())
                };
                if stale {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
}

/// A local copy read into the artifact, hashed on the way; one whose bytes
/// do not match is recorded in `damaged`.
struct Verified {
    file: File,
    hasher: blake3::Hasher,
    read: u64,
    size: u64,
    digest: String,
    source: Source,
    damaged: Rc<RefCell<Vec<(String, Source)>>>,
}

impl Read for Verified {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.file.read(buf)?;
        if self.read < self.size {
            self.hasher.update(&buf[..read]);
            self.read += read as u64;
            // The artifact takes exactly `size` bytes: judge them when the last arrives.
            if self.read >= self.size {
                let hash = self.hasher.finalize().to_hex().to_string();
                if self.read != self.size || hash != self.digest {
                    let record = (self.digest.clone(), self.source.clone());
                    self.damaged.borrow_mut().push(record);
                }
            }
        }
        Ok(read)
    }
}
