//! Client request heads: parsed in place, refused with the status a client
//! should see, and framed by RFC 9112 §6.3 with no room for smuggling.

use crate::decode::{Chunk, Decoder};
use crate::fields::{self, BadLength, Invalid, Seen, Spans};
use crate::headers::has_token;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Uri, Version};

/// Request heads larger than this get 431, as with hyper's default buffer.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// More header fields than this get 431 too.
const MAX_FIELDS: usize = 100;

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub(crate) parts: http::request::Parts,
    /// How the body ends; `Decoder::Done` when there is none.
    pub(crate) body: Decoder,
    /// The declared `Content-Length`, if any.
    pub(crate) declared: Option<u64>,
    /// Whether the client may send another request on this connection.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for a go-ahead before its body.
    pub(crate) expects_continue: bool,
}

/// Why a request head was refused, and what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) why: &'static str,
}

impl Refusal {
    fn bad(why: &'static str) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            why,
        }
    }
}

/// Parses one request head from the front of `buffer`, removing it;
/// `Ok(None)` means more bytes are needed. Values share the buffer's memory.
pub(crate) fn parse(buffer: &mut BytesMut) -> Result<Option<RequestHead>, Refusal> {
    let too_large = Refusal {
        status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        why: "The request headers are larger than this site accepts.",
    };
    let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Request::new(&mut []);
    let length = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut parsed,
        buffer,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if buffer.len() > MAX_HEAD => return Err(too_large),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(too_large),
        Err(_) => return Err(Refusal::bad("The request could not be understood.")),
    };
    if length > MAX_HEAD {
        return Err(too_large);
    }
    let method = Method::from_bytes(parsed.method.unwrap_or_default().as_bytes())
        .map_err(|_| Refusal::bad("The request method is not valid."))?;
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // Offsets, not slices: the head is split off and frozen first.
    let target = fields::span(buffer, parsed.path.unwrap_or_default().as_bytes());
    let mut spans = Spans::new();
    spans.note(buffer, parsed.headers);
    let bytes = buffer.split_to(length).freeze();
    // Room for what the proxy adds.
    let (mut headers, seen) = spans.map(&bytes, 2).map_err(|invalid| match invalid {
        Invalid::Name => Refusal::bad("A header name is not valid."),
        Invalid::Value => Refusal::bad("A header value is not valid."),
    })?;
    if method == Method::CONNECT {
        return Err(Refusal {
            status: StatusCode::METHOD_NOT_ALLOWED,
            why: "This site does not tunnel with CONNECT.",
        });
    }
    let uri = target_uri(&method, bytes.slice(target.0..target.1), &mut headers)?;
    host_rules(version, &headers, seen)?;
    let (body, declared) = framing(version, &headers, seen)?;
    let keep_alive = seen.keep_alive(version, &headers);
    let expects_continue = seen.expect
        && version == Version::HTTP_11
        && headers
            .get(header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    Ok(Some(RequestHead {
        parts: request.into_parts().0,
        body,
        declared,
        keep_alive,
        expects_continue,
    }))
}

/// The request target as a URI in origin form (RFC 9112 §3.2): a path is
/// taken as is, `*` only for `OPTIONS`, and an absolute URI becomes its
/// path with its authority as the `Host` (§3.2.2). Anything else (`GET
/// abc`, an authority) is refused, not guessed at.
#[inline]
fn target_uri(method: &Method, target: Bytes, headers: &mut HeaderMap) -> Result<Uri, Refusal> {
    let invalid = || Refusal::bad("The request target is not a valid URI.");
    match target.first() {
        Some(b'/') => return Uri::from_maybe_shared(target).map_err(|_| invalid()),
        Some(b'*') if target.len() == 1 && method == Method::OPTIONS => {
            return Ok(Uri::from_static("*"))
        }
        _ => {}
    }
    let uri = Uri::from_maybe_shared(target).map_err(|_| invalid())?;
    let absolute = matches!(uri.scheme_str(), Some("http" | "https"));
    let Some(authority) = uri.authority().filter(|_| absolute) else {
        return Err(Refusal::bad(
            "The request target must be a path, such as `/`.",
        ));
    };
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(Refusal::bad("The request target names no usable host."));
    }
    let host = HeaderValue::from_str(authority.as_str()).map_err(|_| invalid())?;
    headers.insert(header::HOST, host);
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    Uri::try_from(path).map_err(|_| invalid())
}

/// `Host` (RFC 9112 §3.2): exactly one for HTTP/1.1, at most one before;
/// and `Connection` may not name a header that frames or routes the
/// request, which dropping as hop-by-hop would change under the backend.
#[inline]
fn host_rules(version: Version, headers: &HeaderMap, seen: Seen) -> Result<(), Refusal> {
    if seen.hosts > 1 {
        return Err(Refusal::bad("The request has more than one Host."));
    }
    if seen.hosts == 0 && version == Version::HTTP_11 {
        return Err(Refusal::bad("An HTTP/1.1 request must name its Host."));
    }
    if seen.hosts == 1 && !headers.get(header::HOST).is_some_and(is_host) {
        return Err(Refusal::bad("The Host header is not a host name."));
    }
    if seen.connection {
        let protected = [
            header::HOST,
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
        ];
        let names_protected = protected
            .iter()
            .any(|name| has_token(headers, header::CONNECTION, name.as_str()));
        if names_protected {
            return Err(Refusal::bad(
                "The Connection header names Host, Content-Length or Transfer-Encoding.",
            ));
        }
    }
    Ok(())
}

/// Whether a `Host` value is `host[:port]` and nothing else: no list, no
/// user info, no path (nginx answers 400 to `a/b@c` or `a, b` too). The
/// app builds links from it, and `X-Forwarded-Host` repeats it.
fn is_host(value: &HeaderValue) -> bool {
    value.as_bytes().iter().all(|byte| {
        byte.is_ascii_alphanumeric()
            || matches!(byte, b'.' | b'-' | b'_' | b':' | b'[' | b']' | b'~' | b'%')
    })
}

/// RFC 9112 §6.3 for requests. Anything ambiguous is refused rather than
/// guessed at: a proxy and its backend reading one body two ways is how
/// request smuggling works.
fn framing(
    version: Version,
    headers: &HeaderMap,
    seen: Seen,
) -> Result<(Decoder, Option<u64>), Refusal> {
    if seen.transfer_encoding {
        if seen.content_length {
            return Err(Refusal::bad(
                "The request has both Transfer-Encoding and Content-Length.",
            ));
        }
        if version == Version::HTTP_10 {
            return Err(Refusal::bad("HTTP/1.0 requests cannot be chunked."));
        }
        let codings: Vec<&str> = fields::codings(headers).collect();
        // Only plain `chunked`: the proxy forwards the decoded body, so any
        // other coding would be lost on the way.
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case("chunked") => {
                Ok((Decoder::Chunked(Chunk::Size), None))
            }
            _ => Err(Refusal {
                status: StatusCode::NOT_IMPLEMENTED,
                why: "Only chunked transfer coding is accepted.",
            }),
        };
    }
    if !seen.content_length {
        return Ok((Decoder::Done, None));
    }
    // One field, one number: even repeats that agree are refused, as nginx
    // does, since some reader on the way may take only one of them.
    if seen.content_lengths > 1 {
        return Err(Refusal::bad("The request repeats Content-Length."));
    }
    let single = headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|value| !value.as_bytes().contains(&b','));
    if !single {
        return Err(Refusal::bad("The request's Content-Length is a list."));
    }
    let declared = fields::declared_length(headers).map_err(|bad| match bad {
        BadLength::NotANumber => Refusal::bad("The Content-Length is not a number."),
        BadLength::Conflicting => Refusal::bad("The request has conflicting Content-Lengths."),
    })?;
    Ok(match declared {
        Some(0) | None => (Decoder::Done, declared),
        Some(length) => (Decoder::Length(length), declared),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Option<RequestHead>, Refusal> {
        parse(&mut BytesMut::from(text))
    }

    fn status(text: &str) -> StatusCode {
        parse_text(text).unwrap_err().status
    }

    #[test]
    fn a_plain_get_parses_and_leaves_the_next_request() {
        let mut buffer =
            BytesMut::from("GET /a?b=1 HTTP/1.1\r\nHost: shop\r\nX-A: 1\r\n\r\nGET /next");
        let head = parse(&mut buffer).unwrap().unwrap();
        assert_eq!(head.parts.method, Method::GET);
        assert_eq!(head.parts.uri, "/a?b=1");
        assert_eq!(head.parts.headers["host"], "shop");
        assert_eq!(head.parts.headers["x-a"], "1");
        assert!(head.keep_alive && head.body.is_done() && !head.expects_continue);
        assert_eq!(&buffer[..], b"GET /next");
    }

    #[test]
    fn partial_heads_wait() {
        assert!(parse_text("GET / HTTP/1.1\r\nHost: sh").unwrap().is_none());
    }

    #[test]
    fn bodies_are_framed_by_length_or_chunking() {
        let head = parse_text("POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((head.body, head.declared), (Decoder::Length(5), Some(5)));
        let head = parse_text("POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.body, Decoder::Chunked(Chunk::Size));
        let head = parse_text(
            "POST / HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 1\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(head.expects_continue);
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        assert_eq!(
            status("POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nhost: a\r\ncontent-length: +5\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: gzip, chunked\r\n\r\n"),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            status("POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n"),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn repeated_or_listed_lengths_and_host_trouble_get_400() {
        for text in [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: Host\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, content-length\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: Transfer-Encoding\r\n\r\n",
            "GET abc HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET a.example:80 HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET http://user@a/b HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a/b@c\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a b\r\n\r\n",
        ] {
            assert_eq!(status(text), StatusCode::BAD_REQUEST, "{text}");
        }
    }

    #[test]
    fn absolute_targets_become_paths_with_their_host() {
        let head = parse_text("GET http://shop.example:8080/a?b HTTP/1.1\r\nHost: other\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.parts.uri, "/a?b");
        assert_eq!(head.parts.headers["host"], "shop.example:8080");
        let head = parse_text("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.parts.uri, "*");
        let old = parse_text("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(
            !old.parts.headers.contains_key("host"),
            "HTTP/1.0 needs no Host"
        );
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let keep = |text: &str| parse_text(text).unwrap().unwrap().keep_alive;
        assert!(keep("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!keep(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        ));
        assert!(!keep("GET / HTTP/1.0\r\n\r\n"));
        assert!(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn garbage_and_huge_heads_get_400_and_431() {
        assert_eq!(status("NOT HTTP AT ALL\r\n\r\n"), StatusCode::BAD_REQUEST);
        let huge = format!("GET / HTTP/1.1\r\nx: {}", "a".repeat(MAX_HEAD + 1));
        assert_eq!(status(&huge), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert_eq!(
            status("CONNECT shop:443 HTTP/1.1\r\n\r\n"),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
