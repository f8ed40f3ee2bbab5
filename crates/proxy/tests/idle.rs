//! `idle_timeout`: connections on which nothing moves are given up, on the
//! client side and the backend side alike, except upgraded ones.

mod common;

use bytes::Bytes;
use hoist_proxy::Settings;
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IDLE: Duration = Duration::from_millis(300);

/// Bounds every wait in these tests, far above [`IDLE`].
const PATIENCE: Duration = Duration::from_secs(10);

fn settings() -> Settings {
    Settings {
        idle_timeout: IDLE,
        ..Settings::default()
    }
}

/// A proxy with a short idle timeout in front of a backend echoing bodies.
async fn proxy() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let backend = common::hyper_backend(|request| async move {
        let body = request.into_body().collect().await?.to_bytes();
        Ok(http::Response::new(Full::new(body)))
    })
    .await;
    common::proxy_to(backend, settings()).await
}

/// A backend that answers each connection's first request with `answer`,
/// then keeps the connection open and echoes whatever else arrives.
async fn raw_backend(answer: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(count) => head.extend_from_slice(&buffer[..count]),
                    }
                }
                if stream.write_all(answer).await.is_err() {
                    return;
                }
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    address
}

/// Everything the proxy sends until it closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut text = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut text))
        .await
        .expect("the proxy closed the connection in time")
        .unwrap();
    String::from_utf8_lossy(&text).into_owned()
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let (address, _stop) = proxy().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let count = stream.read(&mut answer).await.unwrap();
    let answered = Instant::now();
    assert!(answer[..count].starts_with(b"HTTP/1.1 200"));
    let rest = read_to_close(&mut stream).await;
    assert_eq!(rest, "", "an idle connection is closed without a word");
    assert!(answered.elapsed() >= IDLE);
}

#[tokio::test]
async fn a_head_that_stops_arriving_is_answered_408() {
    let (address, _stop) = proxy().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost:").await.unwrap();
    let text = read_to_close(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.contains("connection: close"), "{text}");
}

#[tokio::test]
async fn a_request_body_that_stops_arriving_is_answered_408() {
    let (address, _stop) = proxy().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let text = read_to_close(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
}

#[tokio::test]
async fn a_backend_that_stops_mid_body_has_its_response_cut() {
    let backend = raw_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello").await;
    let (address, _stop) = common::proxy_to(backend, settings()).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let text = read_to_close(&mut stream).await;
    let (head, body) = text.split_once("\r\n\r\n").expect(&text);
    assert!(head.starts_with("HTTP/1.1 200"), "{text}");
    assert!(head.contains("content-length: 100"), "{text}");
    // The client sees a body shorter than announced: broken, never complete.
    assert_eq!(body, "hello");
}

#[tokio::test]
async fn an_upgraded_connection_may_stay_quiet_past_the_idle_timeout() {
    let backend = raw_backend(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
    )
    .await;
    let (address, _stop) = common::proxy_to(backend, settings()).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "{head:?}");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    // The quiet spell is what is under test: three idle timeouts.
    tokio::time::sleep(IDLE * 3).await;
    stream.write_all(b"still there?").await.unwrap();
    let mut echo = [0u8; 12];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut echo))
        .await
        .expect("the tunnel answered in time")
        .unwrap();
    assert_eq!(&echo, b"still there?");
}

#[tokio::test]
async fn a_slow_but_steady_response_body_is_not_cut() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 1024];
        let _ = stream.read(&mut buffer).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
            .await
            .unwrap();
        // Eight bytes over 8 x 100 ms: longer than the idle timeout in all,
        // never idle for that long.
        for byte in b"steadily" {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stream.write_all(&[*byte]).await.unwrap();
        }
        let _ = stream.read(&mut buffer).await;
    });
    let (address, _stop) = common::proxy_to(backend, settings()).await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let response = tokio::time::timeout(
        PATIENCE,
        client.get(format!("http://{address}/").parse().unwrap()),
    )
    .await
    .unwrap()
    .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"steadily");
}

#[tokio::test]
async fn an_http2_client_that_stops_answering_pings_is_closed() {
    let (address, _stop) = proxy().await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    // The h2c preface and an empty SETTINGS frame.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut pinged = false;
    let mut frame_head = [0u8; 9];
    let closed = tokio::time::timeout(PATIENCE, async {
        // Frames until the proxy hangs up: settings are acknowledged, pings never.
        while stream.read_exact(&mut frame_head).await.is_ok() {
            let length = u32::from_be_bytes([0, frame_head[0], frame_head[1], frame_head[2]]);
            let mut payload = vec![0u8; length as usize];
            if stream.read_exact(&mut payload).await.is_err() {
                break;
            }
            let (kind, flags) = (frame_head[3], frame_head[4]);
            if kind == 0x4 && flags & 0x1 == 0 {
                let _ = stream.write_all(b"\0\0\0\x04\x01\0\0\0\0").await;
            }
            pinged |= kind == 0x6 && flags & 0x1 == 0;
        }
    })
    .await;
    assert!(closed.is_ok(), "the proxy closed the connection in time");
    assert!(pinged, "the proxy pinged before giving up");
}

#[tokio::test]
async fn an_upload_the_app_keeps_taking_may_outlast_the_response_timeout() {
    let backend = common::hyper_backend(|request| async move {
        let body = request.into_body().collect().await?.to_bytes();
        Ok(http::Response::new(Full::new(body)))
    })
    .await;
    let settings = Settings {
        response_timeout: Duration::from_millis(300),
        ..Settings::default()
    };
    let (address, _stop) = common::proxy_to(backend, settings).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // Eight bytes 100 ms apart: 800 ms in all, never 300 ms without progress.
    for byte in b"trickled" {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(&[*byte]).await.unwrap();
    }
    let text = read_to_close(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("trickled"), "{text}");
}
