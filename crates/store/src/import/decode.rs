//! The tar stream inside a foreign tarball, whatever compressed it: gzip,
//! bzip2 and zstd stream; xz (whose pure-Rust decoder writes, not reads)
//! is decompressed into an anonymous temporary file first, with a bound so
//! an xz bomb cannot fill the disk.

use crate::format::Format;
use crate::StoreError;
use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;

/// A reader of the tar inside `tarball`; `scratch` holds xz's temporary file.
pub(super) fn tar_stream(
    tarball: &Path,
    format: Format,
    scratch: &Path,
    max_bytes: u64,
) -> Result<Box<dyn Read>, StoreError> {
    let file = File::open(tarball).map_err(StoreError::io("cannot open", tarball))?;
    let reader = BufReader::new(file);
    Ok(match format {
        Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
        Format::Zstd => Box::new(
            zstd::Decoder::with_buffer(reader)
                .map_err(StoreError::io("cannot decompress", tarball))?,
        ),
        Format::Tar => Box::new(reader),
        Format::Xz => Box::new(unxz(tarball, reader, scratch, max_bytes)?),
        Format::Unknown => {
            return Err(StoreError::UnsupportedTarball {
                path: tarball.to_owned(),
                format: format.describe(),
            })
        }
    })
}

fn unxz(
    tarball: &Path,
    mut reader: BufReader<File>,
    scratch: &Path,
    max_bytes: u64,
) -> Result<BufReader<File>, StoreError> {
    let temporary = tempfile::tempfile_in(scratch)
        .map_err(StoreError::io("cannot create a file in", scratch))?;
    // The tar around the files: headers and padding, at most a few KB per file.
    let limit = max_bytes.saturating_mul(2).saturating_add(1 << 20);
    let mut out = Bounded {
        file: std::io::BufWriter::new(temporary),
        left: limit,
        overflowed: false,
    };
    lzma_rs::xz_decompress(&mut reader, &mut out).map_err(|error| {
        if out.overflowed {
            StoreError::TooLarge {
                artifact: tarball.to_owned(),
                size: limit,
                limit: max_bytes,
            }
        } else {
            StoreError::Corrupt {
                path: tarball.to_owned(),
                detail: error.to_string(),
            }
        }
    })?;
    let mut file = out
        .file
        .into_inner()
        .map_err(|error| StoreError::io("cannot write", scratch)(error.into_error()))?;
    file.rewind()
        .map_err(StoreError::io("cannot read back", scratch))?;
    Ok(BufReader::new(file))
}

/// A writer that fails once `left` bytes are used up.
struct Bounded<W> {
    file: W,
    left: u64,
    /// Set when it failed for that reason, so the error can say so.
    overflowed: bool,
}

impl<W: Write> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            self.overflowed = true;
            return Err(std::io::Error::other("over the size limit"));
        }
        let written = self.file.write(buf)?;
        self.left -= written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_writer_stops_at_its_limit() {
        let mut out = Bounded {
            file: Vec::new(),
            left: 4,
            overflowed: false,
        };
        out.write_all(b"1234").unwrap();
        assert!(out.write_all(b"5").is_err());
        assert!(out.overflowed);
        assert_eq!(out.file, b"1234");
    }
}
