//! Request framing nginx refuses with 400 is refused here too, before the
//! backend sees anything (issue 12, finding 9); absolute-form targets are
//! accepted as RFC 9112 §3.2.2 says; HTTP/2 CONNECT never reaches the app.

mod common;

use bytes::Bytes;
use common::{counting_backend, exchange, proxy_to};
use hoist_proxy::Settings;
use http_body_util::Empty;
use std::sync::atomic::Ordering;

// Each of these was forwarded: a backend reading `Content-Length` or `Host`
// another way than the proxy is how requests are smuggled.
#[tokio::test]
async fn framing_nginx_rejects_reached_the_backend() {
    let (backend, seen) = counting_backend().await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    for request in [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: Host\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: content-length\r\n\r\nhi",
        "GET abc HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET shop.example:80 HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        let text = exchange(proxy, request.as_bytes()).await;
        assert!(text.starts_with("HTTP/1.1 400 "), "{request:?} got {text}");
        assert!(text.contains("connection: close"), "{text}");
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the backend saw none of them"
    );
}

#[tokio::test]
async fn absolute_form_targets_become_a_path_and_a_host() {
    let (backend, seen) = counting_backend().await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let text = exchange(
        proxy,
        b"GET http://shop.example/cart?x=1 HTTP/1.1\r\nHost: ignored\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.ends_with("GET /cart?x=1 host=shop.example"), "{text}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

// An HTTP/2 CONNECT was sent on to the app as `CONNECT /`.
#[tokio::test]
async fn http2_connect_reached_the_app_as_connect_slash() {
    let (backend, seen) = counting_backend().await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let stream = tokio::net::TcpStream::connect(proxy).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri("elsewhere.example:443")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the app never saw it");
}
