//! hoist's own HTTP/1 server side, spoken to byte by byte: pipelining,
//! HTTP/1.0, chunked and `Expect: 100-continue` bodies, and the framing it
//! refuses so that no request can be smuggled past it.

mod common;

use bytes::Bytes;
use hoist_proxy::Settings;
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A proxy in front of a backend (hyper) answering `METHOD PATH BODY`;
/// stops when the sender drops.
async fn proxy() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let backend = common::hyper_backend(|request| async move {
        let line = format!("{} {} ", request.method(), request.uri());
        let body = request.into_body().collect().await?.to_bytes();
        let answer = [line.as_bytes(), &body[..]].concat();
        Ok(http::Response::new(Full::new(Bytes::from(answer))))
    })
    .await;
    common::proxy_to(backend, Settings::default()).await
}

/// Reads until `count` responses have ended (each by `Content-Length` or
/// the final chunk) or the connection closes; returns the raw text.
async fn read_responses(stream: &mut TcpStream, count: usize) -> String {
    let mut text = Vec::new();
    let mut buffer = [0u8; 4096];
    let complete = |text: &[u8]| {
        let text = String::from_utf8_lossy(text);
        let mut seen = 0;
        let mut rest: &str = &text;
        while let Some(head_end) = rest.find("\r\n\r\n") {
            let head = rest[..head_end].to_ascii_lowercase();
            let body = &rest[head_end + 4..];
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|value| value.trim().parse::<usize>().ok());
            match length {
                Some(length) if body.len() >= length => {
                    seen += 1;
                    rest = &body[length..];
                }
                _ if head.starts_with("http/1.1 100") => rest = body,
                _ => break,
            }
        }
        seen >= count
    };
    while !complete(&text) {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("the proxy answered in time")
            .unwrap();
        if read == 0 {
            break;
        }
        text.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&text).into_owned()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (address, _stop) = proxy().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /three HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let text = read_responses(&mut stream, 3).await;
    let one = text.find("GET /one ").expect(&text);
    let two = text.find("POST /two hello").expect(&text);
    let three = text.find("GET /three ").expect(&text);
    assert!(one < two && two < three, "{text}");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
}

#[tokio::test]
async fn chunked_and_expect_continue_bodies_reach_the_app() {
    let (address, _stop) = proxy().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        .await
        .unwrap();
    let text = read_responses(&mut stream, 1).await;
    assert!(text.contains("POST /c hello world"), "{text}");
    // The client waits for the go-ahead before sending its body.
    stream
        .write_all(
            b"PUT /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        )
        .await
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"abc").await.unwrap();
    let text = read_responses(&mut stream, 1).await;
    assert!(text.contains("PUT /e abc"), "{text}");
}

#[tokio::test]
async fn http_1_0_clients_get_their_answer_and_a_close() {
    let (address, _stop) = proxy().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /old HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert!(text.ends_with("GET /old "), "{text}");
}

#[tokio::test]
async fn ambiguous_framing_is_refused_and_the_connection_closed() {
    let (address, _stop) = proxy().await;
    for (request, status) in [
        (&b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..], "400"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "501"),
        (b"NONSENSE\r\n\r\n", "400"),
    ] {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        assert!(!text.contains("POST /"), "the app never saw it: {text}");
    }
}
