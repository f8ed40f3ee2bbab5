//! Request and response header rewriting.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1).
/// Names, not strings: a `&str` key is parsed again on every lookup.
static HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Removes hop-by-hop headers, including any the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass of cheap name comparisons instead
    // of a hashed removal per name (it was a tenth of the proxy's CPU).
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Whether the request asks to switch protocols (WebSocket and friends).
pub(crate) fn upgrade_of(headers: &HeaderMap) -> Option<HeaderValue> {
    has_token(headers, header::CONNECTION, "upgrade")
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// The header name spelled by `bytes` (any case). Names most heads carry
/// are found by their length and one comparison; `HeaderName::from_bytes`
/// lowercases into a scratch buffer and searches every standard name,
/// which costs more than the rest of parsing a small head.
pub(crate) fn name_of(bytes: &[u8]) -> Result<HeaderName, header::InvalidHeaderName> {
    let is = |name: &[u8]| bytes.eq_ignore_ascii_case(name);
    Ok(match bytes.len() {
        4 if is(b"host") => header::HOST,
        4 if is(b"date") => header::DATE,
        6 if is(b"accept") => header::ACCEPT,
        6 if is(b"server") => header::SERVER,
        6 if is(b"cookie") => header::COOKIE,
        10 if is(b"connection") => header::CONNECTION,
        10 if is(b"user-agent") => header::USER_AGENT,
        12 if is(b"content-type") => header::CONTENT_TYPE,
        13 if is(b"cache-control") => header::CACHE_CONTROL,
        14 if is(b"content-length") => header::CONTENT_LENGTH,
        15 if is(b"accept-encoding") => header::ACCEPT_ENCODING,
        17 if is(b"transfer-encoding") => header::TRANSFER_ENCODING,
        _ => return HeaderName::from_bytes(bytes),
    })
}

/// Whether a comma-separated header holds `token` (case-insensitively).
pub(crate) fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// The client end of one connection: what the forwarded headers say of it,
/// worked out once per connection rather than once per request.
#[derive(Debug, Clone)]
pub struct Peer {
    pub(crate) addr: SocketAddr,
    pub(crate) scheme: &'static str,
    forwarded_for: HeaderValue,
}

impl Peer {
    /// A client at `addr` speaking `scheme` (`http` or `https`).
    pub fn new(addr: SocketAddr, scheme: &'static str) -> Peer {
        let forwarded_for =
            HeaderValue::from_str(&addr.ip().to_string()).expect("an IP is a valid header value");
        Peer {
            addr,
            scheme: if scheme == "https" { "https" } else { "http" },
            forwarded_for,
        }
    }
}

/// `X-Forwarded-*` and `X-Request-Id` for the backend, written straight
/// into the request head as it is encoded: inserting non-standard names
/// into the header map (a hash and a probe each, sometimes a rehash) was
/// the proxy's most expensive header work.
#[derive(Debug, Default)]
pub(crate) struct Forwarding<'a> {
    host: Option<&'a HeaderValue>,
    has_request_id: bool,
    /// The client's own `X-Forwarded-For`, to be extended, not replaced.
    earlier_for: bool,
}

impl<'a> Forwarding<'a> {
    /// Looks at one of the client's headers; `false` means leave it out
    /// (it is one this proxy writes or answers itself).
    pub(crate) fn keep(&mut self, name: &HeaderName, value: &'a HeaderValue) -> bool {
        if *name == header::HOST {
            self.host = Some(value);
        } else if *name == X_REQUEST_ID {
            self.has_request_id = true;
        } else if *name == X_FORWARDED_FOR {
            self.earlier_for = true;
            return false;
        } else if *name == X_FORWARDED_PROTO || *name == X_FORWARDED_HOST {
            return false;
        } else if *name == header::EXPECT {
            // The proxy answers `Expect: 100-continue` itself when it reads the body.
            return false;
        }
        true
    }

    /// Appends the forwarding header lines for `peer` to `head`.
    pub(crate) fn write(&self, head: &mut Vec<u8>, headers: &HeaderMap, peer: &Peer) {
        head.extend_from_slice(b"x-forwarded-for: ");
        if self.earlier_for {
            for earlier in headers.get_all(&X_FORWARDED_FOR) {
                head.extend_from_slice(earlier.as_bytes());
                head.extend_from_slice(b", ");
            }
        }
        head.extend_from_slice(peer.forwarded_for.as_bytes());
        head.extend_from_slice(b"\r\nx-forwarded-proto: ");
        head.extend_from_slice(peer.scheme.as_bytes());
        head.extend_from_slice(b"\r\n");
        if let Some(host) = self.host {
            head.extend_from_slice(b"x-forwarded-host: ");
            head.extend_from_slice(host.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        if !self.has_request_id {
            head.extend_from_slice(b"x-request-id: ");
            head.extend_from_slice(&request_id());
            head.extend_from_slice(b"\r\n");
        }
    }
}

/// A unique, sortable-enough id: start time of this process + a counter.
fn request_id() -> [u8; 25] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static EPOCH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let epoch = EPOCH.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64)
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Hex by hand: `format!` costs more than the rest of the header work.
    let mut id = [b'-'; 25];
    hex_into(&mut id[..16], *epoch);
    hex_into(&mut id[17..], count);
    id
}

/// Writes `value`'s low `out.len()` hex digits into `out`.
fn hex_into(out: &mut [u8], mut value: u64) {
    for byte in out.iter_mut().rev() {
        *byte = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_listed_and_standard_hop_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("accept"));
    }

    #[test]
    fn forwarded_for_appends_and_client_claims_are_replaced() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("10.1.1.1"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.2.2.2"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert("host", HeaderValue::from_static("shop.example"));
        let mut forwarding = Forwarding::default();
        let kept: Vec<&str> = headers
            .iter()
            .filter(|(name, value)| forwarding.keep(name, value))
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(kept, ["host"]);
        let mut head = Vec::new();
        let peer = Peer::new("127.0.0.1:5000".parse().unwrap(), "http");
        forwarding.write(&mut head, &headers, &peer);
        let text = String::from_utf8(head).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..3],
            [
                "x-forwarded-for: 10.1.1.1, 10.2.2.2, 127.0.0.1",
                "x-forwarded-proto: http",
                "x-forwarded-host: shop.example"
            ]
        );
        let id = lines[3].strip_prefix("x-request-id: ").unwrap();
        assert!(id.len() == 25 && id.as_bytes()[16] == b'-', "{id}");
    }

    #[test]
    fn common_names_are_found_in_any_case_and_others_parsed() {
        assert_eq!(name_of(b"Content-Length").unwrap(), header::CONTENT_LENGTH);
        assert_eq!(name_of(b"host").unwrap(), header::HOST);
        assert_eq!(name_of(b"X-App").unwrap().as_str(), "x-app");
        assert!(name_of(b"bad name").is_err());
    }

    #[test]
    fn detects_upgrades() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        assert_eq!(upgrade_of(&headers).unwrap(), "websocket");
    }
}
