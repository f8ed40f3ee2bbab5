//! The header fields of an HTTP/1 head, either way (client requests and
//! backend responses): httparse's borrowed fields become a `HeaderMap` whose
//! values share the head's memory, with the framing headers noted on the
//! way so that most heads need no lookups afterwards (RFC 9112 §6, §9.3).

use crate::headers::{has_token, name_of};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::Version;

/// More header fields than this in one head is refused.
pub(crate) const MAX_FIELDS: usize = 128;

/// Where each field's name and value sit in a head, as offsets that stay
/// valid once the head is split off its buffer and frozen.
pub(crate) struct Spans {
    /// `(name start, name end, value start, value end)`; u32 is enough, a
    /// head is at most 64 KiB.
    offsets: [(u32, u32, u32, u32); MAX_FIELDS],
    count: usize,
}

/// A field that httparse let through but `http` refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    Name,
    Value,
}

impl Spans {
    /// No fields yet. Filled in place by [`Spans::note`]: the table is 2 KiB,
    /// and returning it by value would copy it on every head.
    pub(crate) const fn new() -> Spans {
        Spans {
            offsets: [(0, 0, 0, 0); MAX_FIELDS],
            count: 0,
        }
    }

    /// Notes where `fields` (parsed out of `head`) sit in it.
    pub(crate) fn note(&mut self, head: &[u8], fields: &[httparse::Header<'_>]) {
        self.count = fields.len().min(MAX_FIELDS);
        for (slot, field) in self.offsets.iter_mut().zip(fields) {
            let (name_start, name_end) = span(head, field.name.as_bytes());
            let (value_start, value_end) = span(head, field.value);
            *slot = (
                name_start as u32,
                name_end as u32,
                value_start as u32,
                value_end as u32,
            );
        }
    }

    /// The header map over `head` (the same bytes, now frozen), with room
    /// for `room` more headers the proxy adds (growing it later rehashes).
    pub(crate) fn map(&self, head: &Bytes, room: usize) -> Result<(HeaderMap, Seen), Invalid> {
        let mut headers = HeaderMap::with_capacity(self.count + room);
        let mut seen = Seen::default();
        for &(name_start, name_end, value_start, value_end) in &self.offsets[..self.count] {
            let name = name_of(&head[name_start as usize..name_end as usize])
                .map_err(|_| Invalid::Name)?;
            let value = HeaderValue::from_maybe_shared(
                head.slice(value_start as usize..value_end as usize),
            )
            .map_err(|_| Invalid::Value)?;
            seen.note(&name);
            headers.append(name, value);
        }
        Ok((headers, seen))
    }
}

/// Where `part`, a slice of `head`, starts and ends in it.
pub(crate) fn span(head: &[u8], part: &[u8]) -> (usize, usize) {
    let start = part.as_ptr() as usize - head.as_ptr() as usize;
    (start, start + part.len())
}

/// Which framing-related headers a head carries.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Seen {
    pub(crate) connection: bool,
    pub(crate) content_length: bool,
    /// How many `Content-Length` fields (a request may carry one only).
    pub(crate) content_lengths: u8,
    /// How many `Host` fields (a request must carry exactly one).
    pub(crate) hosts: u8,
    pub(crate) transfer_encoding: bool,
    pub(crate) expect: bool,
}

impl Seen {
    fn note(&mut self, name: &HeaderName) {
        if name == header::HOST {
            self.hosts = self.hosts.saturating_add(1);
        } else if name == header::CONNECTION {
            self.connection = true;
        } else if name == header::CONTENT_LENGTH {
            self.content_length = true;
            self.content_lengths = self.content_lengths.saturating_add(1);
        } else if name == header::TRANSFER_ENCODING {
            self.transfer_encoding = true;
        } else if name == header::EXPECT {
            self.expect = true;
        }
    }

    /// Whether the peer keeps the connection open after this message:
    /// HTTP/1.1 unless it says `close`, HTTP/1.0 only if it says `keep-alive`.
    pub(crate) fn keep_alive(self, version: Version, headers: &HeaderMap) -> bool {
        match version {
            Version::HTTP_10 => {
                self.connection && has_token(headers, header::CONNECTION, "keep-alive")
            }
            _ => !(self.connection && has_token(headers, header::CONNECTION, "close")),
        }
    }
}

/// The transfer codings, in the order applied.
pub(crate) fn codings(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .map(|value| value.to_str().unwrap_or("?"))
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|coding| !coding.is_empty())
}

/// Why a `Content-Length` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadLength {
    /// Not `1*DIGIT` (a sign, a space inside, a letter).
    NotANumber,
    /// Two values that differ, which two readers could take two ways.
    Conflicting,
}

/// The `Content-Length`, if any: every value (and every comma-separated
/// item) must be plain digits and all must agree.
pub(crate) fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, BadLength> {
    let mut declared = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for item in value.to_str().unwrap_or("x").split(',') {
            let item = item.trim();
            let length: u64 = item
                .bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| item.parse().ok())
                .flatten()
                .ok_or(BadLength::NotANumber)?;
            if declared.is_some_and(|earlier| earlier != length) {
                return Err(BadLength::Conflicting);
            }
            declared = Some(length);
        }
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        fields
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn lengths_must_be_digits_and_agree() {
        let length = |value: &str| declared_length(&headers(&[("content-length", value)]));
        assert_eq!(length("5"), Ok(Some(5)));
        assert_eq!(length("5, 5"), Ok(Some(5)));
        assert_eq!(length("+5"), Err(BadLength::NotANumber));
        assert_eq!(length("5, 6"), Err(BadLength::Conflicting));
        assert_eq!(declared_length(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn fields_point_into_the_frozen_head() {
        let text = b"GET / HTTP/1.1\r\nHost: shop\r\nContent-Length: 3\r\n\r\n";
        let mut fields = [httparse::EMPTY_HEADER; 4];
        let mut request = httparse::Request::new(&mut fields);
        request.parse(text).unwrap();
        let mut spans = Spans::new();
        spans.note(text, request.headers);
        let (map, seen) = spans.map(&Bytes::from_static(text), 0).unwrap();
        assert_eq!(map["host"], "shop");
        assert!(seen.content_length && !seen.transfer_encoding);
        assert!(seen.keep_alive(Version::HTTP_11, &map));
    }
}
