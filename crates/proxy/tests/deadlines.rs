//! A request head has a total deadline and a body a minimum rate: bytes
//! that keep trickling no longer hold a connection open (issue 12, finding 7).

mod common;

use common::{counting_backend, proxy_to};
use hoist_proxy::Settings;
use http_body_util::{BodyExt, Full};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The idle timeout, which caps the header timeout.
const IDLE: Duration = Duration::from_secs(1);

/// How long the tests trickle before giving up on an answer.
const TRICKLE_FOR: Duration = Duration::from_secs(6);

/// Writes `start`, then one byte of `then` every 200 ms, until the proxy
/// answers (or [`TRICKLE_FOR`] passes); returns the answer and when it came.
async fn trickle(stream: &mut TcpStream, start: &[u8], then: u8) -> (String, Duration) {
    let began = Instant::now();
    stream.write_all(start).await.unwrap();
    let mut answer = vec![0u8; 4096];
    while began.elapsed() < TRICKLE_FOR {
        tokio::select! {
            read = stream.read(&mut answer) => {
                let count = read.unwrap_or(0);
                return (String::from_utf8_lossy(&answer[..count]).into_owned(), began.elapsed());
            }
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                // The proxy may have answered and closed: then the next read says so.
                let _ = stream.write_all(&[then]).await;
            }
        }
    }
    (String::new(), began.elapsed())
}

// A head sent one byte per 200 ms was held 45 s+ with `idle_timeout = 10s`:
// the timer restarted with every byte.
#[tokio::test]
async fn slow_head_held_past_idle_timeout() {
    let (backend, seen) = counting_backend().await;
    let settings = Settings {
        idle_timeout: IDLE,
        ..Settings::default()
    };
    let (proxy, _stop) = proxy_to(backend, settings).await;
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let (text, after) = trickle(&mut stream, b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ", b'a').await;
    assert!(
        text.starts_with("HTTP/1.1 408 "),
        "after {after:?}: {text:?}"
    );
    // The deadline counts from the accept; the margin is for a busy machine.
    assert!(after < IDLE + Duration::from_millis(1500), "{after:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

// A body sent one byte per 200 ms was never timed out: each byte restarted
// the idle timer, so a few bytes a second held a connection for hours.
#[tokio::test]
async fn slow_body_held_past_idle_timeout() {
    // The app reads the whole body before it answers.
    let backend = common::hyper_backend(|request| async move {
        let body = request.into_body().collect().await?.to_bytes();
        Ok(http::Response::new(Full::new(body)))
    })
    .await;
    let settings = Settings {
        idle_timeout: IDLE,
        ..Settings::default()
    };
    let (proxy, _stop) = proxy_to(backend, settings).await;
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let (text, after) = trickle(
        &mut stream,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n",
        b'b',
    )
    .await;
    // 5 bytes a second against the default 1 KiB/s, after a grace of the
    // header timeout (the idle timeout here), checked every quarter of it.
    assert!(
        text.starts_with("HTTP/1.1 408 "),
        "after {after:?}: {text:?}"
    );
}

#[tokio::test]
async fn a_head_that_arrives_in_pieces_in_time_is_served() {
    let (backend, seen) = counting_backend().await;
    let settings = Settings {
        idle_timeout: Duration::from_secs(3),
        ..Settings::default()
    };
    let (proxy, _stop) = proxy_to(backend, settings).await;
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    for piece in [&b"GET /a HTTP/1.1\r\n"[..], b"Host: a\r\n", b"\r\n"] {
        stream.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut answer = vec![0u8; 4096];
    let count = stream.read(&mut answer).await.unwrap();
    assert!(answer[..count].starts_with(b"HTTP/1.1 200 "));
    // The next head on the same connection has a deadline of its own.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream
        .write_all(b"GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut rest = String::new();
    stream.read_to_string(&mut rest).await.unwrap();
    assert!(rest.starts_with("HTTP/1.1 200 "), "{rest}");
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}
