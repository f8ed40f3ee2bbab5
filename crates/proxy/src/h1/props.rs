//! Properties of the request head parser, over arbitrary bytes and over
//! near-valid heads built from the pieces smuggling attempts are made of:
//! it never panics, and every head it accepts is one the backend can read
//! only one way (RFC 9112 §3.2, §6.3).

use super::request::{parse, RequestHead};
use crate::decode::Decoder;
use bytes::BytesMut;
use http::{header, Method, Version};
use proptest::prelude::*;

/// Cases per property: enough to cover the pieces' combinations, bounded
/// so the suite stays fast.
const CASES: u32 = 3000;

/// Checks an accepted head against the framing rules; `Err` says which broke.
fn well_framed(head: &RequestHead) -> Result<(), String> {
    let headers = &head.parts.headers;
    let count = |name: header::HeaderName| headers.get_all(name).iter().count();
    if head.parts.method == Method::CONNECT {
        return Err("CONNECT accepted".into());
    }
    let hosts = count(header::HOST);
    if hosts > 1 || (hosts == 0 && head.parts.version == Version::HTTP_11) {
        return Err(format!("{hosts} Host fields"));
    }
    let uri = &head.parts.uri;
    let origin = uri.scheme().is_none() && uri.authority().is_none();
    let star = uri == "*" && head.parts.method == Method::OPTIONS;
    let path = origin && uri.path().starts_with('/');
    if !(path || star) {
        return Err(format!("target `{uri}` is not origin-form"));
    }
    let lengths: Vec<_> = headers.get_all(header::CONTENT_LENGTH).iter().collect();
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if lengths.len() > 1 || (chunked && !lengths.is_empty()) {
        return Err("ambiguous framing".into());
    }
    let connection = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    for protected in ["host", "content-length", "transfer-encoding"] {
        if connection.iter().any(|token| token == protected) {
            return Err(format!("Connection names `{protected}`"));
        }
    }
    let declared = lengths.first().map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|value| value.parse::<u64>().ok())
    });
    match (&head.body, declared, chunked) {
        (Decoder::Chunked(_), None, true) => {
            let coding = headers[header::TRANSFER_ENCODING].as_bytes();
            if !coding.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err("chunked body with other codings".into());
            }
        }
        (Decoder::Length(length), Some(Some(declared)), false) if *length == declared => {}
        (Decoder::Done, None | Some(Some(0)), false) => {}
        (body, declared, chunked) => {
            return Err(format!(
                "body {body:?} from length {declared:?}, chunked {chunked}"
            ))
        }
    }
    Ok(())
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut buffer = BytesMut::from(bytes);
    if let Ok(Some(head)) = parse(&mut buffer) {
        well_framed(&head).map_err(|broken| {
            TestCaseError::fail(format!("{broken} in {:?}", String::from_utf8_lossy(bytes)))
        })?;
    }
    Ok(())
}

/// A request line from the pieces: ordinary, odd and hostile targets.
fn request_line() -> impl Strategy<Value = String> {
    let method = prop::sample::select(vec!["GET", "POST", "OPTIONS", "CONNECT", "PUT", "HEAD"]);
    let target = prop::sample::select(vec![
        "/",
        "/a?b=1",
        "//perl/admin",
        "/x/../perl",
        "*",
        "abc",
        "host:80",
        "http://shop.example/p?q",
        "https://shop.example",
        "HTTP://Shop.Example:81/x",
        "http://user@shop.example/",
        "ftp://shop.example/",
        "http:///nohost",
        "/%70erl",
    ]);
    let version = prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0"]);
    (method, target, version).prop_map(|(m, t, v)| format!("{m} {t} {v}\r\n"))
}

/// Header lines, framing ones in their many spellings.
fn header_line() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Host: shop.example",
        "host: other.example",
        "Host:",
        "Content-Length: 5",
        "content-length: 0",
        "Content-Length: 5, 5",
        "Content-Length: +5",
        "Content-Length:  7 ",
        "Content-Length: 18446744073709551616",
        "Transfer-Encoding: chunked",
        "transfer-encoding: gzip, chunked",
        "Transfer-Encoding: Chunked ",
        "Connection: keep-alive",
        "Connection: close, Host",
        "Connection: content-length",
        "Connection: transfer-encoding",
        "Connection: x-secret",
        "Expect: 100-continue",
        "X-A: 1",
    ])
    .prop_map(|line| format!("{line}\r\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_heads_are_well_framed(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        check(&bytes)?;
    }

    #[test]
    fn near_valid_heads_are_refused_or_well_framed(
        line in request_line(),
        fields in prop::collection::vec(header_line(), 0..6),
        tail in prop::sample::select(vec!["\r\n", "\r\nhello", "\n", ""]),
    ) {
        let text = format!("{line}{}{tail}", fields.concat());
        check(text.as_bytes())?;
    }
}
