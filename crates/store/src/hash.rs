//! BLAKE3 helpers shared by pack, unpack and verify.

use std::io::{self, Read, Write};

/// Copies `reader` into `writer` while hashing; returns (bytes, hex digest).
pub(crate) fn copy_hashing(
    reader: &mut impl Read,
    writer: &mut impl Write,
) -> io::Result<(u64, String)> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..read]);
        writer.write_all(&buffer[..read])?;
        total += read as u64;
    }
    Ok((total, hasher.finalize().to_hex().to_string()))
}

/// Hashes a whole reader.
pub(crate) fn hash_reader(reader: &mut impl Read) -> io::Result<(u64, String)> {
    copy_hashing(reader, &mut io::sink())
}

/// Size and BLAKE3 of the file at `relative` beneath `tree`, opened
/// through no symlink.
pub(crate) fn hash_at(
    tree: &hoist_beneath::Dir,
    relative: &std::path::Path,
) -> Result<(u64, String), crate::StoreError> {
    let path = tree.path().join(relative);
    let mut file = tree
        .open_file(relative)
        .map_err(crate::StoreError::io("cannot open", &path))?;
    hash_reader(&mut file).map_err(crate::StoreError::io("cannot read", &path))
}
