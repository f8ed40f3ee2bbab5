//! `hoist fleet receive`: the [`wire`](super::wire) stream into `parts/`,
//! each file renamed into place whole once its digest checks out, then
//! the artifact assembled.

use super::wire::{END_ENTRY, MANIFEST_DIGEST_ENTRY, MANIFEST_ENTRY};
use super::{check_digest, local, Depot, Received, ShipError, MAX_MANIFEST_BYTES};
use crate::hash::copy_hashing;
use crate::Manifest;
use std::collections::BTreeMap;
use std::io::Read;

/// What may follow the `end` entry: the tar trailer, not more data.
const TRAILER_LIMIT: u64 = 64 * 1024;

impl Depot {
    /// Reads a transfer from `stream` and assembles its artifact.
    /// `expect_bytes` is the artifact's size on the sending machine, for
    /// the disk-space check (without it, the unpacked size is assumed).
    pub fn receive(
        &self,
        stream: &mut dyn Read,
        expect_bytes: Option<u64>,
    ) -> Result<Received, ShipError> {
        let mut counts = (0u64, 0u64);
        let manifest = self
            .read_stream(stream, &mut counts)
            .map_err(|error| self.cut(error, counts))?;
        let missing = self.assemble(&manifest, expect_bytes)?;
        Ok(Received {
            release: manifest.release.clone(),
            digest: manifest.digest.clone(),
            artifact: missing.is_empty().then(|| self.artifact_path(&manifest)),
            received_files: counts.0,
            received_bytes: counts.1,
            missing,
        })
    }

    /// A read error of the stream itself means the transfer was cut.
    fn cut(&self, error: Stream, (received_files, received_bytes): (u64, u64)) -> ShipError {
        match error {
            Stream::Cut(detail) => ShipError::Cut {
                received_files,
                received_bytes,
                detail,
                parts: self.parts_dir(),
            },
            Stream::Refused(error) => error,
        }
    }

    fn read_stream(
        &self,
        stream: &mut dyn Read,
        counts: &mut (u64, u64),
    ) -> Result<Manifest, Stream> {
        let decoder = zstd::Decoder::new(stream).map_err(Stream::cut)?;
        let mut archive = tar::Archive::new(decoder);
        let manifest = self.read_entries(&mut archive, counts)?;
        // Read to the end: the tar trailer and zstd's checksum, so the
        // sender's last writes land and a damaged stream is noticed.
        let rest = std::io::copy(
            &mut Read::take(archive.into_inner(), TRAILER_LIMIT),
            &mut std::io::sink(),
        );
        rest.map_err(Stream::cut)?;
        Ok(manifest)
    }

    fn read_entries<R: Read>(
        &self,
        archive: &mut tar::Archive<R>,
        counts: &mut (u64, u64),
    ) -> Result<Manifest, Stream> {
        let mut entries = archive.entries().map_err(Stream::cut)?;
        let mut next = || match entries.next() {
            Some(Ok(entry)) => Ok(entry),
            Some(Err(error)) => Err(Stream::cut(error)),
            None => Err(Stream::Cut("it ended before its `end` entry".into())),
        };
        let mut first = next()?;
        let name = String::from_utf8_lossy(&first.path_bytes()).into_owned();
        let by_digest = name == MANIFEST_DIGEST_ENTRY;
        if !(by_digest || name == MANIFEST_ENTRY) || first.size() > MAX_MANIFEST_BYTES {
            return Err(Stream::Refused(ShipError::BadManifest {
                detail: format!("the transfer does not start with `{MANIFEST_ENTRY}`"),
            }));
        }
        let mut bytes = Vec::with_capacity(first.size() as usize);
        first.read_to_end(&mut bytes).map_err(Stream::cut)?;
        drop(first);
        let manifest = if by_digest {
            self.kept_manifest(&String::from_utf8_lossy(&bytes))
        } else {
            super::checked_manifest(&bytes)
        };
        let manifest = manifest.map_err(Stream::Refused)?;
        let wanted = local::wanted(&manifest).map_err(Stream::Refused)?;
        loop {
            let mut entry = next()?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if name == END_ENTRY {
                return Ok(manifest);
            }
            let size = self.expected(&manifest, &wanted, &name, entry.size())?;
            let bytes = self.write_part(&name, size, &mut entry)?;
            counts.0 += 1;
            counts.1 += bytes;
        }
    }

    /// The size `name` must have: it must be a digest the manifest lists.
    fn expected(
        &self,
        manifest: &Manifest,
        wanted: &BTreeMap<String, u64>,
        name: &str,
        size: u64,
    ) -> Result<u64, Stream> {
        check_digest(name).map_err(Stream::Refused)?;
        let unexpected = |problem: String| {
            Stream::Refused(ShipError::Unexpected {
                release: manifest.release.to_string(),
                name: name.to_owned(),
                problem,
            })
        };
        match wanted.get(name) {
            None => Err(unexpected("which its manifest does not list".into())),
            Some(&listed) if listed != size => Err(unexpected(format!(
                "of {size} bytes where its manifest lists {listed}"
            ))),
            Some(&listed) => Ok(listed),
        }
    }

    /// Writes one part: a temp file renamed into place once its digest is
    /// right. Not fsynced: assembly re-checks every part's digest, so one
    /// a crash left short is found there and sent again.
    fn write_part(&self, digest: &str, size: u64, content: &mut dyn Read) -> Result<u64, Stream> {
        let part = self.part(digest);
        let temp = self
            .parts_dir()
            .join(format!(".{digest}.tmp-{}", std::process::id()));
        let written = (|| {
            let mut file = std::fs::File::create(&temp)
                .map_err(|cause| Stream::Refused(ShipError::io("cannot create", &temp)(cause)))?;
            let copied = copy_hashing(&mut Read::take(&mut *content, size), &mut file);
            match copied {
                Ok((bytes, hash)) if bytes == size && hash == digest => Ok(bytes),
                Ok(_) => Err(Stream::Refused(ShipError::Damaged {
                    digest: digest.to_owned(),
                })),
                // A full disk is the host's problem, not a cut wire.
                Err(error) if error.kind() == std::io::ErrorKind::StorageFull => {
                    Err(Stream::Refused(ShipError::io("cannot write", &temp)(error)))
                }
                Err(error) => Err(Stream::cut(error)),
            }
        })();
        match written {
            Ok(bytes) => {
                std::fs::rename(&temp, &part).map_err(|cause| {
                    Stream::Refused(ShipError::io("cannot rename into", &part)(cause))
                })?;
                Ok(bytes)
            }
            Err(error) => {
                let _ = std::fs::remove_file(&temp);
                Err(error)
            }
        }
    }
}

/// Why reading the stream stopped.
enum Stream {
    /// The stream broke off: a transfer to resume.
    Cut(String),
    /// What arrived is refused.
    Refused(ShipError),
}

impl Stream {
    fn cut(error: std::io::Error) -> Stream {
        Stream::Cut(error.to_string())
    }
}
