//! Paths are normalised before any rule looks at them (issue 12, finding 8):
//! under maintenance of `/perl/`, no spelling of `/perl/...` reaches the app,
//! and the app gets the normal form.

mod common;

use common::{counting_backend, exchange, proxy_with};
use hoist_proxy::{Backend, Maintenance, Router, Settings};
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").into_bytes()
}

// `/%70erl/admin`, `//perl/admin` and `/x/../perl/admin` got 200 from the app
// under `hoist maint on --path /perl/`.
#[tokio::test]
async fn maintenance_path_rule_bypassed_by_escapes_slashes_and_dots() {
    let (backend, seen) = counting_backend().await;
    let router = Arc::new(Router::default());
    router.set_live(Arc::new(Backend::new("r1", backend)));
    router.set_maintenance(Some(Maintenance {
        message: "Perl is being upgraded".into(),
        paths: vec!["/perl/".into()],
        ..Maintenance::default()
    }));
    let (proxy, _stop) = proxy_with(router, Settings::default()).await;
    for path in [
        "/perl/admin",
        "/%70erl/admin",
        "/%70%65%72%6c/admin",
        "//perl/admin",
        "/x/../perl/admin",
        "/./perl/admin",
        "/x/%2e%2e/perl/admin",
        "/perl%2Fadmin",
        "/%2Fperl/admin",
        "/x/..%2fperl/admin",
    ] {
        let text = exchange(proxy, &get(path)).await;
        assert!(text.starts_with("HTTP/1.1 503 "), "{path} got {text}");
    }
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the app saw none of them");

    // Other paths pass, in their normal form, with the query as it was.
    let text = exchange(proxy, &get("/shop/./a//b/../c?q=%2e%2e")).await;
    assert!(text.ends_with("GET /shop/a/c?q=%2e%2e host=a"), "{text}");
    let text = exchange(proxy, &get("/shop/a%2fb")).await;
    assert!(text.ends_with("GET /shop/a%2Fb host=a"), "{text}");

    // What has no normal form is refused.
    for path in ["/a%zz", "/a%00b", "/../etc/passwd", "/a/../../b"] {
        let text = exchange(proxy, &get(path)).await;
        assert!(text.starts_with("HTTP/1.1 400 "), "{path} got {text}");
    }
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}
