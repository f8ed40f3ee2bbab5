//! What kind of file an artifact path holds, told by its first bytes, so a
//! tarball from another tool is named as such rather than "corrupt".

use std::io::Read;
use std::path::Path;

/// The container a file's magic bytes announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// zstd: a hoist artifact, or a `.tar.zst` from elsewhere.
    Zstd,
    /// gzip (`.tar.gz`, `.tgz`: `dzil build`, `npm pack`, `git archive`).
    Gzip,
    /// xz (`.tar.xz`).
    Xz,
    /// bzip2 (`.tar.bz2`).
    Bzip2,
    /// An uncompressed tar (`ustar` at offset 257).
    Tar,
    /// Anything else.
    Unknown,
}

impl Format {
    /// Reads the first 262 bytes of `path`.
    pub(crate) fn sniff(path: &Path) -> std::io::Result<Format> {
        let mut head = Vec::with_capacity(262);
        std::fs::File::open(path)?
            .take(262)
            .read_to_end(&mut head)?;
        Ok(Format::of(&head))
    }

    fn of(head: &[u8]) -> Format {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Format::Zstd
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Format::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Format::Xz
        } else if head.starts_with(b"BZh") {
            Format::Bzip2
        } else if head.get(257..262) == Some(b"ustar") {
            Format::Tar
        } else {
            Format::Unknown
        }
    }

    /// Names the format in a message: "a gzip-compressed tarball".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Format::Zstd => "a zstd tarball without a hoist manifest",
            Format::Gzip => "a gzip-compressed tarball",
            Format::Xz => "an xz-compressed tarball",
            Format::Bzip2 => "a bzip2-compressed tarball",
            Format::Tar => "a plain tar archive",
            Format::Unknown => "not a tar archive hoist knows",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_formats_apart() {
        assert_eq!(Format::of(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
        assert_eq!(Format::of(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Format::Zstd);
        assert_eq!(Format::of(b"BZh91AY"), Format::Bzip2);
        let mut tar = vec![0u8; 262];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(Format::of(&tar), Format::Tar);
        assert_eq!(Format::of(b"hello"), Format::Unknown);
    }
}
