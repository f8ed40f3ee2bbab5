//! Request heads out, response heads in, and how each body is framed
//! (RFC 9112 §6).

use crate::fields::{self, BadLength, Invalid, Seen, Spans, MAX_FIELDS};
use crate::headers::Forwarding;
use crate::Peer;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Version};

/// Response heads larger than this are refused: no sane app sends one, and
/// an unbounded head is a memory leak waiting for a broken backend.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// How the request body travels to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sending {
    /// No body at all.
    Nothing,
    /// As is: the client declared its `Content-Length`, which is forwarded.
    Declared,
    /// Length unknown (HTTP/2 without a length, or a chunked client): chunked.
    Chunked,
}

impl Sending {
    /// Chooses the framing for a request whose body is already known to be
    /// empty (`body_empty`) or not.
    pub(crate) fn choose(headers: &HeaderMap, body_empty: bool) -> Sending {
        if headers.contains_key(header::CONTENT_LENGTH) {
            Sending::Declared
        } else if body_empty {
            Sending::Nothing
        } else {
            Sending::Chunked
        }
    }
}

/// Writes `METHOD target HTTP/1.1`, the headers, and the framing header the
/// body needs. Hop-by-hop headers must already be gone.
pub(crate) fn encode_request(
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    sending: Sending,
    peer: &Peer,
) -> Bytes {
    let mut head = Vec::with_capacity(256 + target.len() + headers.len() * 48);
    head.extend_from_slice(method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    let mut forwarding = Forwarding::default();
    for (name, value) in headers {
        if forwarding.keep(name, value) {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    forwarding.write(&mut head, headers, peer);
    match sending {
        Sending::Chunked => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        // Servers may refuse a POST with neither length nor chunking (411).
        Sending::Nothing if carries_body(method) => {
            head.extend_from_slice(b"content-length: 0\r\n")
        }
        Sending::Nothing | Sending::Declared => {}
    }
    head.extend_from_slice(b"\r\n");
    Bytes::from(head)
}

fn carries_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// How the response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the backend closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) parts: http::response::Parts,
    pub(crate) framing: Framing,
    /// Whether the connection may carry another request afterwards.
    pub(crate) keep_alive: bool,
}

/// Why a response head was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadHead {
    Malformed(String),
    TooLarge,
}

impl std::fmt::Display for BadHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadHead::Malformed(why) => write!(f, "malformed response head: {why}"),
            BadHead::TooLarge => write!(f, "response head over {MAX_HEAD} bytes"),
        }
    }
}

/// Parses one response head from the front of `buffer`, removing it;
/// `Ok(None)` means more bytes are needed. Values share the buffer's memory.
pub(crate) fn parse_response(
    buffer: &mut BytesMut,
    request_method: &Method,
) -> Result<Option<ResponseHead>, BadHead> {
    let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let length = match config.parse_response_with_uninit_headers(&mut parsed, buffer, &mut slots) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if buffer.len() > MAX_HEAD => return Err(BadHead::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(BadHead::TooLarge),
        Err(error) => return Err(BadHead::Malformed(error.to_string())),
    };
    let code = parsed.code.unwrap_or_default();
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // Offsets, not slices: the head is split off and frozen first.
    let mut spans = Spans::new();
    spans.note(buffer, parsed.headers);
    let bytes = buffer.split_to(length).freeze();
    // Room for the headers the proxy adds (release, data version, cookie).
    let (headers, seen) = spans.map(&bytes, 4).map_err(|invalid| match invalid {
        Invalid::Name => BadHead::Malformed("invalid header name".into()),
        Invalid::Value => BadHead::Malformed("invalid header value".into()),
    })?;
    let status =
        StatusCode::from_u16(code).map_err(|_| BadHead::Malformed(format!("status {code}")))?;
    let framing = framing(request_method, status, &headers, seen)?;
    let keep_alive = framing != Framing::UntilClose && seen.keep_alive(version, &headers);
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Ok(Some(ResponseHead {
        parts: response.into_parts().0,
        framing,
        keep_alive,
    }))
}

/// RFC 9112 §6.3, in order.
fn framing(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
    seen: Seen,
) -> Result<Framing, BadHead> {
    if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if seen.transfer_encoding {
        // Chunked must be the final coding; otherwise the body runs to the close.
        let last = fields::codings(headers).last();
        return Ok(match last {
            Some(coding) if coding.eq_ignore_ascii_case("chunked") => Framing::Chunked,
            _ => Framing::UntilClose,
        });
    }
    if !seen.content_length {
        return Ok(Framing::UntilClose);
    }
    let declared = fields::declared_length(headers).map_err(|bad| match bad {
        BadLength::NotANumber => BadHead::Malformed("invalid content-length".into()),
        BadLength::Conflicting => BadHead::Malformed("conflicting content-length".into()),
    })?;
    Ok(declared.map_or(Framing::UntilClose, Framing::Length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, method: Method) -> Result<Option<ResponseHead>, BadHead> {
        parse_response(&mut BytesMut::from(text), &method)
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let head = |text: &str| parse(text, Method::GET).unwrap().unwrap();
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n").framing,
            Framing::Length(5)
        );
        assert_eq!(
            head(
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\ncontent-length: 5\r\n\r\n"
            )
            .framing,
            Framing::Chunked
        );
        let close = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            (close.framing, close.keep_alive),
            (Framing::UntilClose, false)
        );
        assert_eq!(
            head("HTTP/1.1 204 No Content\r\n\r\n").framing,
            Framing::Empty
        );
        let head_request = parse("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", Method::HEAD);
        assert_eq!(head_request.unwrap().unwrap().framing, Framing::Empty);
    }

    #[test]
    fn keep_alive_depends_on_version_and_connection() {
        let head = |text: &str| parse(text, Method::GET).unwrap().unwrap().keep_alive;
        assert!(head("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
        assert!(!head(
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(!head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"));
        assert!(head(
            "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n"
        ));
    }

    #[test]
    fn partial_heads_wait_and_bad_ones_are_refused() {
        assert!(parse("HTTP/1.1 200 OK\r\ncontent-le", Method::GET)
            .unwrap()
            .is_none());
        assert!(matches!(
            parse(
                "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
                Method::GET
            ),
            Err(BadHead::Malformed(_))
        ));
        assert!(matches!(
            parse("NOT HTTP\r\n\r\n", Method::GET),
            Err(BadHead::Malformed(_))
        ));
        let huge = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD + 1));
        assert_eq!(parse(&huge, Method::GET).unwrap_err(), BadHead::TooLarge);
    }

    #[test]
    fn the_head_is_removed_and_the_body_stays() {
        let mut buffer = BytesMut::from("HTTP/1.1 200 OK\r\nX-A: 1\r\ncontent-length: 2\r\n\r\nhi");
        let head = parse_response(&mut buffer, &Method::GET).unwrap().unwrap();
        assert_eq!(head.parts.headers["x-a"], "1");
        assert_eq!(&buffer[..], b"hi");
    }

    #[test]
    fn request_heads_carry_the_framing_the_body_needs() {
        let mut headers = HeaderMap::new();
        headers.insert("host", http::HeaderValue::from_static("shop"));
        let peer = Peer::new("10.0.0.9:4000".parse().unwrap(), "https");
        let get = encode_request(&Method::GET, "/a?b", &headers, Sending::Nothing, &peer);
        let get = String::from_utf8(get.to_vec()).unwrap();
        assert!(get.starts_with("GET /a?b HTTP/1.1\r\nhost: shop\r\nx-forwarded-for: 10.0.0.9\r\nx-forwarded-proto: https\r\nx-forwarded-host: shop\r\nx-request-id: "), "{get}");
        assert!(
            get.ends_with("\r\n\r\n") && !get.contains("content-length"),
            "{get}"
        );
        let post = encode_request(&Method::POST, "/", &headers, Sending::Nothing, &peer);
        assert!(post.ends_with(b"content-length: 0\r\n\r\n"));
        let streamed = encode_request(&Method::POST, "/", &headers, Sending::Chunked, &peer);
        assert!(streamed.ends_with(b"transfer-encoding: chunked\r\n\r\n"));
    }
}
