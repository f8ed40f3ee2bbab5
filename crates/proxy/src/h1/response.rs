//! Response heads out to HTTP/1 clients, and how each body is framed.

use crate::headers::has_token;
use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Version};
use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// How the response body travels to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sending {
    /// No body bytes at all (HEAD, 1xx, 204, 304).
    Nothing,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked (HTTP/1.1 clients, length unknown).
    Chunked,
    /// Until the connection closes (HTTP/1.0 clients, length unknown).
    UntilClose,
}

/// What the request said that shapes the response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked {
    pub(crate) head_only: bool,
    pub(crate) version: Version,
    pub(crate) keep_alive: bool,
}

impl Asked {
    pub(crate) fn of(method: &Method, version: Version, keep_alive: bool) -> Asked {
        Asked {
            head_only: *method == Method::HEAD,
            version,
            keep_alive,
        }
    }
}

/// Writes the status line, the headers and the framing headers into `out`;
/// returns how the body must be sent and whether the connection stays open.
/// Hop-by-hop headers must already be gone (except a `Connection: close`
/// the proxy itself set).
pub(crate) fn encode(
    status: StatusCode,
    headers: &HeaderMap,
    exact_length: Option<u64>,
    asked: Asked,
    out: &mut Vec<u8>,
) -> (Sending, bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let (mut has_date, mut has_length, mut has_connection) = (false, false, false);
    for (name, value) in headers {
        has_date |= name == header::DATE;
        has_length |= name == header::CONTENT_LENGTH;
        has_connection |= name == header::CONNECTION;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !has_date {
        out.extend_from_slice(b"date: ");
        write_date(out);
        out.extend_from_slice(b"\r\n");
    }
    let switching = status == StatusCode::SWITCHING_PROTOCOLS;
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    // The body's own exact size first (a backend's `Content-Length` was
    // checked when its head was parsed); the header only when that is unknown.
    let length = exact_length.or_else(|| {
        has_length
            .then(|| crate::fields::declared_length(headers).ok().flatten())
            .flatten()
    });
    let sending = if bodiless {
        Sending::Nothing
    } else if let Some(length) = length {
        if !has_length {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if asked.head_only {
            Sending::Nothing
        } else {
            Sending::Length(length)
        }
    } else if asked.head_only {
        Sending::Nothing
    } else if asked.version == Version::HTTP_11 {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Sending::Chunked
    } else {
        Sending::UntilClose
    };
    let closing = has_connection && has_token(headers, header::CONNECTION, "close");
    let keep_alive = !switching && asked.keep_alive && !closing && sending != Sending::UntilClose;
    if !switching && !keep_alive && !closing {
        out.extend_from_slice(b"connection: close\r\n");
    } else if keep_alive && asked.version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (sending, keep_alive)
}

thread_local! {
    /// The `Date` value, formatted once per second per thread.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Appends the current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn write_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != second {
            let text = httpdate::fmt_http_date(now);
            if text.len() == 29 {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = second;
            } else {
                out.extend_from_slice(text.as_bytes());
                return;
            }
        }
        out.extend_from_slice(&cached.1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn head(
        status: u16,
        headers: &[(&str, &str)],
        exact: Option<u64>,
        asked: Asked,
    ) -> (String, Sending, bool) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let mut out = Vec::new();
        let (sending, keep) = encode(
            StatusCode::from_u16(status).unwrap(),
            &map,
            exact,
            asked,
            &mut out,
        );
        (String::from_utf8(out).unwrap(), sending, keep)
    }

    const GET_11: Asked = Asked {
        head_only: false,
        version: Version::HTTP_11,
        keep_alive: true,
    };

    #[test]
    fn known_lengths_are_declared_and_unknown_ones_chunked() {
        let (text, sending, keep) = head(200, &[("x-a", "1")], Some(3), GET_11);
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\nx-a: 1\r\ndate: "),
            "{text}"
        );
        assert!(text.ends_with("GMT\r\ncontent-length: 3\r\n\r\n"), "{text}");
        assert_eq!((sending, keep), (Sending::Length(3), true));
        let (text, sending, _) = head(200, &[], None, GET_11);
        assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
        assert_eq!(sending, Sending::Chunked);
        let (_, sending, _) = head(200, &[("content-length", "9")], None, GET_11);
        assert_eq!(sending, Sending::Length(9));
    }

    #[test]
    fn head_requests_and_bodiless_statuses_send_no_body() {
        let asked = Asked {
            head_only: true,
            ..GET_11
        };
        let (text, sending, _) = head(200, &[("content-length", "9")], None, asked);
        assert_eq!(sending, Sending::Nothing);
        assert!(text.contains("content-length: 9"), "{text}");
        let (text, sending, _) = head(304, &[], Some(0), GET_11);
        assert_eq!(sending, Sending::Nothing);
        assert!(!text.contains("content-length"), "{text}");
    }

    #[test]
    fn http_1_0_clients_get_keep_alive_only_when_asked_and_length_known() {
        let old = Asked {
            version: Version::HTTP_10,
            ..GET_11
        };
        let (text, _, keep) = head(200, &[], Some(1), old);
        assert!(
            keep && text.contains("connection: keep-alive\r\n"),
            "{text}"
        );
        let (text, sending, keep) = head(200, &[], None, old);
        assert_eq!((sending, keep), (Sending::UntilClose, false));
        assert!(text.contains("connection: close\r\n"), "{text}");
    }

    #[test]
    fn a_close_from_the_proxy_or_client_ends_the_connection_once() {
        let (text, _, keep) = head(200, &[("connection", "close")], Some(0), GET_11);
        assert!(!keep);
        assert_eq!(text.matches("connection").count(), 1, "{text}");
        let asked = Asked {
            keep_alive: false,
            ..GET_11
        };
        let (text, _, keep) = head(200, &[], Some(0), asked);
        assert!(!keep && text.contains("connection: close\r\n"), "{text}");
    }
}
