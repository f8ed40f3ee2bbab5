//! The seekable artifact layout: one zstd frame per tar entry, plus an
//! index of frame offsets in a trailing zstd *skippable* frame.
//!
//! Standard tools ignore skippable frames, so the artifact is still a plain
//! `.tar.zst` (`tar -I zstd -xf` unpacks it), but hoist can seek straight to
//! a file's frame. A deploy that changes 10 files of 10,000 then decodes 10
//! frames instead of the whole stream.
//!
//! ```text
//! [frame: manifest entry][frame: entry 1]...[frame: entry N][frame: tar end]
//! [skippable frame: (offset, length) x (N + 2), count: u64, "HOISTIX1"]
//! ```

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
const INDEX_MAGIC: &[u8; 8] = b"HOISTIX1";
const TRAILER: u64 = 16;

/// Where one frame lies in the artifact file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) offset: u64,
    pub(crate) length: u64,
}

/// Counts bytes on their way to the file, so frame offsets are known.
pub(crate) struct Counting<W> {
    inner: W,
    pub(crate) written: u64,
}

impl<W: Write> Counting<W> {
    pub(crate) fn new(inner: W) -> Counting<W> {
        Counting { inner, written: 0 }
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }

    /// Compresses what `fill` writes as one complete zstd frame.
    pub(crate) fn frame(
        &mut self,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<Frame> {
        let offset = self.written;
        let mut encoder = zstd::Encoder::new(&mut *self, 3)?;
        encoder.include_checksum(true)?;
        fill(&mut encoder)?;
        encoder.finish()?;
        Ok(Frame {
            offset,
            length: self.written - offset,
        })
    }

    /// Appends the index as a skippable frame.
    pub(crate) fn index(&mut self, frames: &[Frame]) -> io::Result<()> {
        let mut payload = Vec::with_capacity(frames.len() * 16 + TRAILER as usize);
        for frame in frames {
            payload.extend_from_slice(&frame.offset.to_le_bytes());
            payload.extend_from_slice(&frame.length.to_le_bytes());
        }
        payload.extend_from_slice(&(frames.len() as u64).to_le_bytes());
        payload.extend_from_slice(INDEX_MAGIC);
        let size = u32::try_from(payload.len())
            .map_err(|_| io::Error::other("artifact index over 4 GiB"))?;
        self.write_all(&SKIPPABLE_MAGIC.to_le_bytes())?;
        self.write_all(&size.to_le_bytes())?;
        self.write_all(&payload)
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.written += written as u64;
        Ok(written)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads the frame index, or `None` for an artifact without one (built by
/// another tool, or damaged at the end: the streaming path then decides).
pub(crate) fn read_index(file: &mut File) -> io::Result<Option<Vec<Frame>>> {
    let length = file.metadata()?.len();
    if length < TRAILER + 8 {
        return Ok(None);
    }
    let mut trailer = [0u8; TRAILER as usize];
    file.seek(SeekFrom::Start(length - TRAILER))?;
    file.read_exact(&mut trailer)?;
    if &trailer[8..] != INDEX_MAGIC {
        return Ok(None);
    }
    let count = u64::from_le_bytes(trailer[..8].try_into().expect("8 bytes"));
    let payload = count
        .checked_mul(16)
        .and_then(|pairs| pairs.checked_add(TRAILER));
    let Some(start) = payload.and_then(|payload| length.checked_sub(payload + 8)) else {
        return Ok(None);
    };
    let mut header = [0u8; 8];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut header)?;
    let magic = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let size = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    if magic != SKIPPABLE_MAGIC || Some(u64::from(size)) != payload {
        return Ok(None);
    }
    let mut pairs = vec![0u8; (count * 16) as usize];
    file.read_exact(&mut pairs)?;
    let frames: Vec<Frame> = pairs
        .chunks_exact(16)
        .map(|pair| Frame {
            offset: u64::from_le_bytes(pair[..8].try_into().expect("8 bytes")),
            length: u64::from_le_bytes(pair[8..].try_into().expect("8 bytes")),
        })
        .collect();
    let inside = frames.iter().all(|frame| {
        frame
            .offset
            .checked_add(frame.length)
            .is_some_and(|end| end <= start)
    });
    Ok(inside.then_some(frames))
}

/// A reader over exactly one frame's decompressed bytes.
pub(crate) fn open_frame(file: &File, frame: Frame) -> io::Result<impl Read + '_> {
    let mut handle = file;
    handle.seek(SeekFrom::Start(frame.offset))?;
    let compressed = io::BufReader::new(handle.take(frame.length));
    Ok(zstd::Decoder::with_buffer(compressed)?.single_frame())
}
