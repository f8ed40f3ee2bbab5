//! One data version on the wire: a zstd tar of exactly the entries a
//! [`hoist_data::scan`] found, read on the host by `hoist fleet
//! data-receive`. Both ends are here, so they never drift apart.
//!
//! The tar carries paths, kinds, modes and symlink targets, which are what
//! a version's digest covers; the host loads what it unpacked with the id
//! and digest the deploying machine gave, and refuses a copy that does not
//! digest to it (a file changed while it was sent, a damaged stream).

use hoist_data::Scanned;
use std::io::{Read, Write};
use std::path::Path;

/// Writes `scanned` as a zstd tar to `out`.
pub fn pack(scanned: &Scanned, out: impl Write) -> std::io::Result<()> {
    let encoder = zstd::Encoder::new(out, 3)?;
    let mut tar = tar::Builder::new(encoder);
    // A symlink is data of its own (its target), never the file it names.
    tar.follow_symlinks(false);
    for entry in &scanned.entries {
        tar.append_path_with_name(scanned.root.join(&entry.path), &entry.path)?;
    }
    tar.into_inner()?.finish()?.flush()
}

/// Unpacks a [`pack`]ed version from `input` into the empty dir `dir`,
/// modes as sent; paths leaving `dir` are refused by `tar` itself.
pub fn unpack(input: impl Read, dir: &Path) -> std::io::Result<()> {
    let decoder = zstd::Decoder::new(input)?;
    let mut archive = tar::Archive::new(decoder);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(false);
    archive.set_overwrite(false);
    archive.unpack(dir)
}
