//! A held candidate is reached only from `test_from` networks, or by the
//! header or cookie from this host itself (issue 12, finding 10).

mod common;

use common::{counting_backend, exchange_from, proxy_with};
use hoist_proxy::{Backend, Router, Settings, Steering};
use std::net::IpAddr;
use std::sync::Arc;

fn release_of(text: &str) -> &str {
    text.lines()
        .find_map(|line| line.strip_prefix("x-hoist-release: "))
        .unwrap_or_default()
}

// With `--test-from 10.1.0.0/16`, anyone reached the candidate with the
// `hoist-release: candidate` header or cookie.
#[tokio::test]
async fn held_candidate_reached_from_outside_test_from_by_header_or_cookie() {
    let (live, _) = counting_backend().await;
    let (candidate, _) = counting_backend().await;
    let router = Arc::new(Router::default());
    router.set_live(Arc::new(Backend::new("v1", live)));
    router.set_candidate(Some(Steering {
        backend: Arc::new(Backend::new("v2", candidate)),
        percent: 0,
        test_from: vec!["127.200.0.0/16".into()],
    }));
    let (proxy, _stop) = proxy_with(router, Settings::default()).await;
    let request = |extra: &str| {
        format!("GET / HTTP/1.1\r\nHost: a\r\n{extra}Connection: close\r\n\r\n").into_bytes()
    };
    let outside: IpAddr = [127, 0, 0, 5].into();
    for asking in [
        "hoist-release: candidate\r\n",
        "Cookie: a=1; hoist-release=candidate\r\n",
    ] {
        let text = exchange_from(outside, proxy, &request(asking)).await;
        assert_eq!(release_of(&text), "v1", "{asking:?} from outside: {text}");
        let text = exchange_from([127, 0, 0, 1].into(), proxy, &request(asking)).await;
        assert_eq!(release_of(&text), "v2", "{asking:?} from this host: {text}");
    }
    let tester: IpAddr = [127, 200, 3, 4].into();
    let text = exchange_from(tester, proxy, &request("")).await;
    assert_eq!(release_of(&text), "v2", "test_from reaches it as before");
    let text = exchange_from(outside, proxy, &request("")).await;
    assert_eq!(release_of(&text), "v1");
}

// With nothing live (a first deploy), the held candidate's test routing
// answered 503 "No release is running yet", so its link walk failed.
#[tokio::test]
async fn held_candidate_with_nothing_live_answered_503_to_test_traffic() {
    let (candidate, _) = counting_backend().await;
    let router = Arc::new(Router::default());
    router.set_candidate(Some(Steering {
        backend: Arc::new(Backend::new("v1", candidate)),
        percent: 0,
        test_from: Vec::new(),
    }));
    let (proxy, _stop) = proxy_with(router, Settings::default()).await;
    let request = |extra: &str| {
        format!("GET / HTTP/1.1\r\nHost: a\r\n{extra}Connection: close\r\n\r\n").into_bytes()
    };
    let asking = "hoist-release: candidate\r\n";
    let text = exchange_from([127, 0, 0, 1].into(), proxy, &request(asking)).await;
    assert_eq!(
        release_of(&text),
        "v1",
        "test traffic from this host: {text}"
    );
    // Everyone else still waits for a release: a held one is never public.
    let text = exchange_from([127, 0, 0, 5].into(), proxy, &request(asking)).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    let text = exchange_from([127, 0, 0, 1].into(), proxy, &request("")).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
}
