//! `max_connections` and `max_connections_per_client`: at the cap the
//! connection that has waited longest without a request in flight makes
//! room; if none waits, the newcomer gets a clear 503.

mod common;

use bytes::Bytes;
use common::{counting_backend, exchange, exchange_from, proxy_to};
use hoist_proxy::Settings;
use http_body_util::Full;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bounds every wait in these tests.
const PATIENCE: Duration = Duration::from_secs(10);

fn capped(max_connections: usize, max_connections_per_client: usize) -> Settings {
    Settings {
        max_connections,
        max_connections_per_client,
        ..Settings::default()
    }
}

/// One keep-alive request on `stream`; returns the answer's head.
async fn request(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let count = tokio::time::timeout(PATIENCE, stream.read(&mut answer))
        .await
        .expect("answered in time")
        .unwrap();
    String::from_utf8_lossy(&answer[..count]).into_owned()
}

/// Whether the proxy closed `stream` (within [`PATIENCE`]).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(PATIENCE, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Waits (within [`PATIENCE`]) until `ready` holds.
async fn until(mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !ready() {
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn at_the_cap_the_connection_waiting_longest_is_closed_first() {
    let (backend, _) = counting_backend().await;
    let (proxy, _stop) = proxy_to(backend, capped(3, 0)).await;
    // `silent` connects first and never says a word.
    let mut silent = TcpStream::connect(proxy).await.unwrap();
    let mut served = TcpStream::connect(proxy).await.unwrap();
    let mut half = TcpStream::connect(proxy).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    // `served` has been served since: it waited least recently.
    assert!(request(&mut served).await.starts_with("HTTP/1.1 200 "));
    let mut newcomer = TcpStream::connect(proxy).await.unwrap();
    let text = request(&mut newcomer).await;
    assert!(
        text.starts_with("HTTP/1.1 200 "),
        "the newcomer is served: {text}"
    );
    assert!(
        closed(&mut silent).await,
        "the oldest waiting connection made room"
    );
    // Then the half-sent head, which began waiting before `served` did.
    let mut fourth = TcpStream::connect(proxy).await.unwrap();
    assert!(request(&mut fourth).await.starts_with("HTTP/1.1 200 "));
    assert!(closed(&mut half).await);
    assert!(
        request(&mut served).await.starts_with("HTTP/1.1 200 "),
        "the served keep-alive connection is still open"
    );
}

#[tokio::test]
async fn when_no_connection_waits_a_newcomer_gets_503() {
    // The backend holds every request until the test lets go.
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let arrived = Arc::new(AtomicUsize::new(0));
    let (gate, count) = (release.clone(), arrived.clone());
    let backend = common::hyper_backend(move |_request| {
        let gate = gate.clone();
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            let _permit = gate.acquire().await.unwrap();
            Ok(http::Response::new(Full::new(Bytes::from_static(b"done"))))
        }
    })
    .await;
    let (proxy, _stop) = proxy_to(backend, capped(2, 0)).await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(proxy).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        busy.push(stream);
    }
    until(|| arrived.load(Ordering::SeqCst) == 2).await;
    let text = exchange(proxy, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    assert!(
        text.contains("retry-after: ") && text.contains("busy"),
        "{text}"
    );
    release.add_permits(2);
    for stream in &mut busy {
        let mut answer = vec![0u8; 4096];
        let count = stream.read(&mut answer).await.unwrap();
        assert!(
            answer[..count].starts_with(b"HTTP/1.1 200 "),
            "requests in flight finish"
        );
    }
}

#[tokio::test]
async fn one_client_address_gets_at_most_its_share() {
    let (backend, _) = counting_backend().await;
    let (proxy, _stop) = proxy_to(backend, capped(100, 2)).await;
    let mut mine = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(proxy).await.unwrap();
        assert!(request(&mut stream).await.starts_with("HTTP/1.1 200 "));
        mine.push(stream);
    }
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let text = exchange(proxy, request).await;
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    let text = exchange_from([127, 0, 0, 9].into(), proxy, request).await;
    assert!(
        text.starts_with("HTTP/1.1 200 "),
        "another address is served: {text}"
    );
    drop(mine.pop());
    // The proxy frees the place once it has seen the close.
    let mut reused = false;
    for _ in 0..100 {
        if exchange(proxy, request).await.starts_with("HTTP/1.1 200 ") {
            reused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reused, "a freed place is reused");
}
