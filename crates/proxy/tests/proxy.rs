//! The proxy's own answers: error pages, limits, h2c, forwarded headers.

mod common;

use bytes::Bytes;
use common::proxy_to;
use hoist_proxy::Settings;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::time::Duration;

/// A backend that echoes request headers it was sent as the response body.
async fn header_echo() -> SocketAddr {
    common::hyper_backend(|request| async move {
        let mut seen = String::new();
        for (name, value) in request.headers() {
            seen.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("?")));
        }
        Ok(http::Response::new(Full::new(Bytes::from(seen))))
    })
    .await
}

async fn get(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    uri: String,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, String) {
    let mut request = http::Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status.as_u16(),
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

#[tokio::test]
async fn backend_down_gets_a_readable_502_page() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (proxy, _stop) = proxy_to(closed, Settings::default()).await;
    let (status, headers, body) = get(&client(), format!("http://{proxy}/"), &[]).await;
    assert_eq!(status, 502);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(body.contains("<h1>502 Bad Gateway</h1>"), "{body}");
    assert_eq!(headers["x-hoist-release"], "r1");
}

#[tokio::test]
async fn silent_backend_gets_a_504_page() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    // Accepts and reads, never answers; the connections are held until the test ends.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let settings = Settings {
        response_timeout: Duration::from_millis(200),
        ..Settings::default()
    };
    let (proxy, _stop) = proxy_to(address, settings).await;
    let (status, _, body) = get(&client(), format!("http://{proxy}/"), &[]).await;
    assert_eq!(status, 504);
    assert!(body.contains("504 Gateway Timeout"), "{body}");
}

#[tokio::test]
async fn oversized_body_gets_413_and_oversized_headers_431() {
    let backend = header_echo().await;
    let settings = Settings {
        max_body_size: 1024,
        ..Settings::default()
    };
    let (proxy, _stop) = proxy_to(backend, settings).await;
    let request = http::Request::post(format!("http://{proxy}/"))
        .body(Full::new(Bytes::from(vec![b'x'; 4096])))
        .unwrap();
    let response = client().request(request).await.unwrap();
    assert_eq!(response.status(), 413);
    let huge = "v".repeat(100 * 1024);
    let (status, _, _) = get(
        &client(),
        format!("http://{proxy}/"),
        &[("x-huge", huge.as_str())],
    )
    .await;
    assert_eq!(status, 431);
}

#[tokio::test]
async fn forwarded_headers_reach_the_backend_and_hop_headers_do_not() {
    let backend = header_echo().await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let (status, _, seen) = get(
        &client(),
        format!("http://{proxy}/"),
        &[
            ("x-forwarded-for", "10.0.0.9"),
            ("keep-alive", "timeout=5"),
            ("host", "shop.example"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        seen.contains("x-forwarded-for: 10.0.0.9, 127.0.0.1"),
        "{seen}"
    );
    assert!(
        seen.contains("x-forwarded-proto: http") && seen.contains("x-forwarded-host: shop.example"),
        "{seen}"
    );
    assert!(seen.contains("x-request-id: "), "{seen}");
    assert!(!seen.contains("keep-alive"), "{seen}");
}

#[tokio::test]
async fn h2c_clients_are_served() {
    let backend = header_echo().await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let h2: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let response = h2
        .request(
            http::Request::get(format!("http://{proxy}/"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-hoist-release"], "r1");
}

#[tokio::test]
async fn the_apps_own_error_page_replaces_the_built_in_one() {
    let releases = std::env::temp_dir().join(format!("hoist-error-pages-{}", std::process::id()));
    std::fs::create_dir_all(releases.join("r1/public")).unwrap();
    std::fs::write(
        releases.join("r1/public/502.html"),
        "<h1>Our shop is restarting</h1>",
    )
    .unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let settings = Settings {
        error_pages: [(502, "public/502.html".into())].into_iter().collect(),
        releases: releases.clone(),
        ..Settings::default()
    };
    let (proxy, _stop) = proxy_to(closed, settings).await;
    let (status, _, body) = get(&client(), format!("http://{proxy}/"), &[]).await;
    std::fs::remove_dir_all(&releases).unwrap();
    assert_eq!(
        (status, body.as_str()),
        (502, "<h1>Our shop is restarting</h1>")
    );
}
