//! Steering some traffic to a candidate release: test traffic only (a held
//! deploy), or a sticky percentage of clients (a canary).

use crate::maintenance::contains;
use crate::Backend;
use http::HeaderMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The cookie that pins a client to a canary bucket (0..100), so assignment
/// survives a changing client address.
pub const BUCKET_COOKIE: &str = "hoist-bucket";

/// A candidate beside the live release.
#[derive(Debug, Clone)]
pub struct Steering {
    /// The candidate's backend.
    pub backend: Arc<Backend>,
    /// Share of clients (0..=100) sent to it; 0 means test traffic only.
    pub percent: u8,
    /// Networks whose requests always go to it.
    pub test_from: Vec<String>,
}

/// Where one request goes, and whether to pin its bucket with a cookie.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) candidate: bool,
    pub(crate) set_bucket: Option<u8>,
}

impl Steering {
    /// Chooses for a request from `client` with `headers`. Clients in
    /// `test_from` always get the candidate. The header and the cookie pick
    /// it only from this host itself (a `curl` on the server): from anywhere
    /// else they are ignored, so a held release is never public.
    pub(crate) fn choose(&self, client: IpAddr, headers: &HeaderMap) -> Choice {
        if self.is_test(client, headers) {
            return Choice {
                candidate: true,
                set_bucket: None,
            };
        }
        if self.percent == 0 {
            return Choice {
                candidate: false,
                set_bucket: None,
            };
        }
        let (bucket, from_cookie) = match cookie_bucket(headers) {
            Some(bucket) => (bucket, true),
            None => (bucket_of(client), false),
        };
        Choice {
            candidate: bucket < self.percent,
            set_bucket: (!from_cookie).then_some(bucket),
        }
    }

    /// Test traffic: from `test_from`, or asking for the candidate from
    /// this host itself. Only this reaches a candidate while nothing is live.
    pub(crate) fn is_test(&self, client: IpAddr, headers: &HeaderMap) -> bool {
        self.test_from.iter().any(|cidr| contains(cidr, client))
            || (is_this_host(client) && asks_for_candidate(headers))
    }
}

/// `hoist-release: candidate`, or the cookie `hoist-release=candidate`.
fn asks_for_candidate(headers: &HeaderMap) -> bool {
    let asks = |value: &str| {
        value
            .split(';')
            .any(|part| part.trim() == "hoist-release=candidate")
    };
    headers
        .get("hoist-release")
        .is_some_and(|value| value == "candidate")
        || headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(asks)
}

/// The server's own loopback address, as a client on it connects (not all
/// of 127.0.0.0/8: tests and local setups give other clients those).
fn is_this_host(client: IpAddr) -> bool {
    match client {
        IpAddr::V4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(ip) => {
            ip == std::net::Ipv6Addr::LOCALHOST
                || ip.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

/// The client's bucket from its address: stable for the same address.
pub(crate) fn bucket_of(client: IpAddr) -> u8 {
    // FNV-1a: tiny, stable across hoist versions and hosts (unlike RandomState).
    let bytes = match client {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % 100) as u8
}

fn cookie_bucket(headers: &HeaderMap) -> Option<u8> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(BUCKET_COOKIE)?.strip_prefix('='))
        .find_map(|bucket| bucket.parse::<u8>().ok().filter(|bucket| *bucket < 100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn steering(percent: u8) -> Steering {
        Steering {
            backend: Arc::new(Backend::new("c", "127.0.0.1:1".parse().unwrap())),
            percent,
            test_from: vec!["10.9.0.0/16".into()],
        }
    }

    #[test]
    fn test_traffic_by_network_or_by_header_and_cookie_from_this_host() {
        let held = steering(0);
        let outside: IpAddr = "192.0.2.7".parse().unwrap();
        let this_host: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(!held.choose(outside, &HeaderMap::new()).candidate);
        assert!(!held.choose(this_host, &HeaderMap::new()).candidate);
        let mut header = HeaderMap::new();
        header.insert("hoist-release", HeaderValue::from_static("candidate"));
        let mut cookie = HeaderMap::new();
        cookie.insert(
            "cookie",
            HeaderValue::from_static("a=1; hoist-release=candidate"),
        );
        for asking in [&header, &cookie] {
            assert!(held.choose(this_host, asking).candidate);
            assert!(held.choose("::1".parse().unwrap(), asking).candidate);
            assert!(
                !held.choose(outside, asking).candidate,
                "a client outside `test_from` cannot ask for the candidate"
            );
        }
        assert!(
            held.choose("10.9.3.4".parse().unwrap(), &HeaderMap::new())
                .candidate
        );
    }

    #[test]
    fn ten_percent_of_ten_thousand_clients_stay_put() {
        let canary = steering(10);
        let clients: Vec<IpAddr> = (0..10_000u32)
            .map(|i| IpAddr::from([172, 16 + (i >> 16) as u8, (i >> 8) as u8, i as u8]))
            .collect();
        let first: Vec<bool> = clients
            .iter()
            .map(|client| canary.choose(*client, &HeaderMap::new()).candidate)
            .collect();
        let share = first.iter().filter(|candidate| **candidate).count();
        assert!((800..=1200).contains(&share), "{share} of 10,000");
        let again: Vec<bool> = clients
            .iter()
            .map(|client| canary.choose(*client, &HeaderMap::new()).candidate)
            .collect();
        assert_eq!(first, again, "each client always sees the same release");
    }

    #[test]
    fn the_bucket_cookie_wins_over_the_address() {
        let canary = steering(10);
        let mut headers = HeaderMap::new();
        headers.insert("cookie", HeaderValue::from_static("hoist-bucket=3"));
        let choice = canary.choose("192.0.2.200".parse().unwrap(), &headers);
        assert_eq!(
            choice,
            Choice {
                candidate: true,
                set_bucket: None
            }
        );
        headers.insert("cookie", HeaderValue::from_static("hoist-bucket=42"));
        assert!(
            !canary
                .choose("192.0.2.200".parse().unwrap(), &headers)
                .candidate
        );
    }
}
