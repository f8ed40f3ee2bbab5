//! The transfer stream, written by the deploying machine and read by
//! `hoist fleet receive`: one zstd-compressed tar.
//!
//! ```text
//! manifest.json     the release's manifest, or instead
//! manifest.digest   its digest: the host kept it when `need` was sent it
//! <blake3 hex>      one file's bytes, named by their digest, once per content
//! ...
//! end               empty: the sender got to the end (without it, the transfer was cut)
//! ```
//!
//! A tar of digests, not of paths: what a host lacks is contents, and a
//! content shared by two paths, or moved between releases, goes once.

use crate::{Artifact, Manifest, StoreError};
use std::collections::HashSet;
use std::io::{Read, Write};

/// The stream's first entry: the manifest.
pub const MANIFEST_ENTRY: &str = "manifest.json";
/// Or instead the manifest's digest, naming the one `need` kept, so a
/// 10,000-file manifest crosses the wire once per deploy, not twice.
pub const MANIFEST_DIGEST_ENTRY: &str = "manifest.digest";
/// Its last entry.
pub const END_ENTRY: &str = "end";
/// zstd level of the stream: cheap enough to run once per host.
const LEVEL: i32 = 3;

/// How the stream names its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestBy {
    /// Sent whole.
    Value,
    /// By digest, for a host that was just asked `need` with it.
    Digest,
}

/// Writes the stream of `artifact`'s manifest and the files whose digests
/// are in `digests` to `out`; returns the number of files written.
pub fn write_stream(
    artifact: &Artifact,
    manifest: ManifestBy,
    digests: &HashSet<String>,
    out: &mut dyn Write,
) -> Result<u64, StoreError> {
    let sending = |cause| StoreError::Io {
        action: "cannot send",
        path: artifact.path().to_owned(),
        cause,
    };
    let mut encoder = zstd::Encoder::new(out, LEVEL).map_err(sending)?;
    encoder.include_checksum(true).map_err(sending)?;
    let mut tar = tar::Builder::new(encoder);
    let (name, bytes) = match manifest {
        ManifestBy::Value => (MANIFEST_ENTRY, artifact.manifest().to_json()),
        ManifestBy::Digest => (
            MANIFEST_DIGEST_ENTRY,
            artifact.manifest().digest.clone().into_bytes(),
        ),
    };
    append(&mut tar, name, bytes.len() as u64, &mut bytes.as_slice()).map_err(sending)?;
    let mut files = 0u64;
    artifact.each_file(digests, &mut |entry, content| {
        let digest = entry.blake3.as_deref().unwrap_or_default();
        files += 1;
        // Flushed per file, so whatever reached the host decodes whole
        // even if the rest never comes: a cut transfer keeps its files.
        append(&mut tar, digest, entry.size, content)
            .and_then(|()| tar.get_mut().flush())
            .map_err(sending)
    })?;
    let finish = || -> std::io::Result<()> {
        append(&mut tar, END_ENTRY, 0, &mut std::io::empty())?;
        tar.into_inner()?.finish()?.flush()
    };
    finish().map_err(sending)?;
    Ok(files)
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    content: &mut dyn Read,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o444);
    header.set_size(size);
    header.set_cksum();
    // Exactly `size` bytes, or the header lies and the receiver desyncs.
    let mut exact = Exact {
        inner: content.take(size),
        left: size,
    };
    tar.append_data(&mut header, name, &mut exact)
}

/// Fails instead of letting a short read pad the entry.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= read as u64;
        Ok(read)
    }
}

/// The manifest as `hoist fleet need` takes it: zstd-compressed JSON.
pub fn manifest_for_need(manifest: &Manifest) -> Vec<u8> {
    zstd::encode_all(manifest.to_json().as_slice(), LEVEL).expect("compressing into memory")
}

/// Reads a manifest sent to `need`: zstd-compressed or plain JSON.
pub fn read_manifest(input: &mut dyn Read) -> Result<Manifest, super::ShipError> {
    let bad = |detail: String| super::ShipError::BadManifest { detail };
    let mut bytes = Vec::new();
    input
        .take(super::MAX_MANIFEST_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|error| bad(error.to_string()))?;
    if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let mut json = Vec::new();
        zstd::Decoder::new(bytes.as_slice())
            .map_err(|error| bad(error.to_string()))?
            .take(super::MAX_MANIFEST_BYTES)
            .read_to_end(&mut json)
            .map_err(|error| bad(error.to_string()))?;
        bytes = json;
    }
    super::checked_manifest(&bytes)
}
