//! Idle keep-alive connections give their buffers back (see
//! [`crate::buffers`]): watched through the thread's count of buffers
//! lent, on a current-thread runtime so every task shares that count.

use crate::{buffers, serve, Backend, Proxy, Router, Settings};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// A keep-alive backend answering every request head with [`ANSWER`].
async fn backend() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(count) => seen.extend_from_slice(&chunk[..count]),
                    }
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if stream.write_all(ANSWER).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

/// Sends one GET on `stream` and reads its whole answer.
async fn get(stream: &mut TcpStream) {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\nok") {
        let count = stream.read(&mut chunk).await.unwrap();
        assert!(count > 0, "closed mid-answer: {answer:?}");
        answer.extend_from_slice(&chunk[..count]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
}

/// Lets the other tasks run until `lent` buffers are out, or a bounded
/// number of turns has passed; returns how many are out then.
async fn settle(lent: isize) -> isize {
    for _ in 0..1000 {
        if buffers::out() == lent {
            break;
        }
        tokio::task::yield_now().await;
    }
    buffers::out()
}

// Each idle keep-alive connection held an 8 KiB read buffer and its write
// buffer while it waited for its next request (23.75 KB per connection).
#[tokio::test]
async fn idle_keep_alive_connection_holds_no_buffer() {
    let router = Arc::new(Router::default());
    router.set_live(Arc::new(Backend::new("r1", backend().await)));
    let proxy = Arc::new(Proxy::new(router, Settings::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, proxy, std::future::pending()));
    let before = buffers::out();
    let mut clients = Vec::new();
    for _ in 0..20 {
        let mut client = TcpStream::connect(address).await.unwrap();
        get(&mut client).await;
        clients.push(client);
    }
    assert_eq!(
        settle(before).await,
        before,
        "buffers held by idle connections"
    );
    // Reused: the next request on each takes a buffer and gives it back.
    for client in &mut clients {
        get(client).await;
    }
    assert_eq!(
        settle(before).await,
        before,
        "buffers held after a second request"
    );
}
