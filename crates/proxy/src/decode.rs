//! Body framing on the wire, both ways: `Content-Length` bodies, chunked
//! bodies (RFC 9112 §7.1) and bodies that run until the connection closes.
//! Backend responses and client requests are decoded by the same code.

use bytes::{Bytes, BytesMut};
use std::io;

/// A chunk-size or trailer line longer than this is refused: the limit
/// stops a peer from growing the buffer without end.
const MAX_LINE: usize = 64 * 1024;

/// Where in the body the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
}

/// Where in a chunked body the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Expecting `HEX[;ext]CRLF`.
    Size,
    /// Inside a chunk, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines (dropped) until an empty one.
    Trailers,
}

impl Decoder {
    pub(crate) fn is_done(&self) -> bool {
        *self == Decoder::Done
    }

    /// Takes the next piece of body out of `buffer`; `Ok(None)` means more
    /// bytes are needed (or the body is done: see [`Decoder::is_done`]).
    pub(crate) fn decode(&mut self, buffer: &mut BytesMut) -> io::Result<Option<Bytes>> {
        loop {
            match *self {
                Decoder::Done => return Ok(None),
                Decoder::UntilClose => {
                    return Ok((!buffer.is_empty()).then(|| buffer.split().freeze()));
                }
                Decoder::Length(left) => {
                    let Some((data, rest)) = take_up_to(buffer, left) else {
                        return Ok(None);
                    };
                    *self = match rest {
                        0 => Decoder::Done,
                        rest => Decoder::Length(rest),
                    };
                    return Ok(Some(data));
                }
                Decoder::Chunked(Chunk::Size) => {
                    let Some(line) = take_line(buffer)? else {
                        return Ok(None);
                    };
                    *self = match chunk_size(&line)? {
                        0 => Decoder::Chunked(Chunk::Trailers),
                        size => Decoder::Chunked(Chunk::Data(size)),
                    };
                }
                Decoder::Chunked(Chunk::Data(left)) => {
                    let Some((data, rest)) = take_up_to(buffer, left) else {
                        return Ok(None);
                    };
                    *self = Decoder::Chunked(match rest {
                        0 => Chunk::DataEnd,
                        rest => Chunk::Data(rest),
                    });
                    return Ok(Some(data));
                }
                Decoder::Chunked(Chunk::DataEnd) => {
                    let Some(line) = take_line(buffer)? else {
                        return Ok(None);
                    };
                    if !line.iter().all(|byte| *byte == b'\r' || *byte == b'\n') {
                        return Err(invalid("chunk data longer than its size"));
                    }
                    *self = Decoder::Chunked(Chunk::Size);
                }
                Decoder::Chunked(Chunk::Trailers) => {
                    let Some(line) = take_line(buffer)? else {
                        return Ok(None);
                    };
                    if line.iter().all(|byte| *byte == b'\r' || *byte == b'\n') {
                        *self = Decoder::Done;
                        return Ok(None);
                    }
                }
            }
        }
    }
}

/// Up to `left` bytes off the front of `buffer` (none if it is empty), and
/// how many are still owed after them.
fn take_up_to(buffer: &mut BytesMut, left: u64) -> Option<(Bytes, u64)> {
    if buffer.is_empty() {
        return None;
    }
    let take = (buffer.len() as u64).min(left);
    Some((buffer.split_to(take as usize).freeze(), left - take))
}

/// Removes one `\n`-terminated line from the front of `buffer`, if complete.
fn take_line(buffer: &mut BytesMut) -> io::Result<Option<BytesMut>> {
    match buffer.iter().position(|byte| *byte == b'\n') {
        Some(end) => Ok(Some(buffer.split_to(end + 1))),
        None if buffer.len() > MAX_LINE => Err(invalid("chunk line too long")),
        None => Ok(None),
    }
}

/// The hex size at the start of a chunk line (extensions are ignored).
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let digits = line
        .iter()
        .take_while(|byte| byte.is_ascii_hexdigit())
        .count();
    let rest = &line[digits..];
    let well_ended = matches!(rest.first(), Some(b';' | b'\r' | b'\n' | b' ' | b'\t'));
    if digits == 0 || digits > 15 || !well_ended {
        return Err(invalid("bad chunk size"));
    }
    let text = std::str::from_utf8(&line[..digits]).map_err(|_| invalid("bad chunk size"))?;
    u64::from_str_radix(text, 16).map_err(|_| invalid("bad chunk size"))
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` in pieces of `step` bytes and collects what comes out.
    fn decode_all(
        mut decoder: Decoder,
        wire: &[u8],
        step: usize,
    ) -> io::Result<(Vec<u8>, Decoder)> {
        let mut buffer = BytesMut::new();
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            buffer.extend_from_slice(piece);
            while let Some(data) = decoder.decode(&mut buffer)? {
                out.extend_from_slice(&data);
            }
        }
        Ok((out, decoder))
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_read_boundaries() {
        let wire = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n";
        for step in 1..wire.len() {
            let (out, decoder) = decode_all(Decoder::Chunked(Chunk::Size), wire, step).unwrap();
            assert_eq!(out, b"hello, world", "step {step}");
            assert!(decoder.is_done(), "step {step}");
        }
    }

    #[test]
    fn fixed_bodies_stop_at_their_length() {
        let mut buffer = BytesMut::from(&b"abcdefNEXT"[..]);
        let mut decoder = Decoder::Length(6);
        assert_eq!(
            &decoder.decode(&mut buffer).unwrap().unwrap()[..],
            b"abcdef"
        );
        assert!(decoder.is_done());
        assert_eq!(&buffer[..], b"NEXT");
    }

    #[test]
    fn broken_chunking_is_an_error() {
        let bad = [
            &b"zz\r\n"[..],
            b"5\r\nhello!!\r\n",
            b"ffffffffffffffff0\r\n",
        ];
        for wire in bad {
            assert!(decode_all(Decoder::Chunked(Chunk::Size), wire, wire.len()).is_err());
        }
    }
}
