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

#[cfg(test)]
mod tests {
    #[test]
    fn an_unpacked_version_digests_like_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("genes")).unwrap();
        std::fs::write(src.join("release.txt"), "WS290\n").unwrap();
        std::fs::write(src.join("genes/index.tsv"), "1\tunc-22\n").unwrap();
        std::os::unix::fs::symlink("release.txt", src.join("latest")).unwrap();
        for source in [src.clone(), src.join("release.txt")] {
            let scanned = hoist_data::scan(&source).unwrap();
            let mut packed = Vec::new();
            super::pack(&scanned, &mut packed).unwrap();
            let out = tempfile::tempdir().unwrap();
            super::unpack(packed.as_slice(), out.path()).unwrap();
            let unpacked = hoist_data::scan(out.path()).unwrap();
            assert_eq!(unpacked.entries, scanned.entries, "{}", source.display());
            assert_eq!(unpacked.digest(), scanned.digest());
        }
    }
}
