//! The proxy's HTTP/1.1 client side against backends that speak raw bytes:
//! framing (chunked, close-delimited, HEAD, 1xx), keep-alive reuse, a
//! backend closing pooled connections, bodies of unknown length, early
//! answers and broken responses.

mod common;

use bytes::Bytes;
use common::proxy_to;
use hoist_proxy::Settings;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A backend that runs `script` on each connection it accepts and counts them.
async fn scripted<F, Fut>(script: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(script(stream));
        }
    });
    (address, accepted)
}

/// Reads one request head; `None` when the proxy closed the connection.
async fn read_head(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = pending.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end + 4]).into_owned();
            pending.drain(..end + 4);
            return Some(head);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => pending.extend_from_slice(&chunk[..read]),
        }
    }
}

/// Reads a chunked body to its end and returns the data.
async fn read_chunked(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Vec<u8> {
    let mut data = Vec::new();
    loop {
        while !pending.windows(2).any(|window| window == b"\r\n") {
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await.unwrap();
            pending.extend_from_slice(&chunk[..read]);
        }
        let line_end = pending
            .windows(2)
            .position(|window| window == b"\r\n")
            .unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&pending[..line_end]).unwrap(), 16).unwrap();
        pending.drain(..line_end + 2);
        while pending.len() < size + 2 {
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).await.unwrap();
            pending.extend_from_slice(&chunk[..read]);
        }
        data.extend_from_slice(&pending[..size]);
        pending.drain(..size + 2);
        if size == 0 {
            return data;
        }
    }
}

type TestClient<B> = Client<hyper_util::client::legacy::connect::HttpConnector, B>;

async fn send<B>(client: &TestClient<B>, request: http::Request<B>) -> Result<(u16, String), String>
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let response = client
        .request(request)
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| error.to_string())?;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

fn get(proxy: SocketAddr, path: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(format!("http://{proxy}{path}"))
        .body(Full::default())
        .unwrap()
}

#[tokio::test]
async fn chunked_answers_stream_through_on_one_reused_connection() {
    let (backend, accepted) = scripted(|mut stream| async move {
        let mut pending = Vec::new();
        while read_head(&mut stream, &mut pending).await.is_some() {
            let answer = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                          5\r\nhello\r\n6;x=1\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n";
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    })
    .await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    for _ in 0..5 {
        assert_eq!(
            send(&client, get(proxy, "/")).await,
            Ok((200, "hello world".into()))
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one keep-alive backend connection"
    );
}

#[tokio::test]
async fn a_backend_closing_its_keep_alive_connections_costs_no_request() {
    // Answers one request per connection, then hangs up without saying so.
    let (backend, accepted) = scripted(|mut stream| async move {
        let mut pending = Vec::new();
        if read_head(&mut stream, &mut pending).await.is_some() {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
        }
    })
    .await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    for _ in 0..20 {
        assert_eq!(send(&client, get(proxy, "/")).await, Ok((200, "ok".into())));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 20);
}

#[tokio::test]
async fn framing_close_delimited_head_interim_and_broken_answers() {
    let (backend, _) = scripted(|mut stream| async move {
        let mut pending = Vec::new();
        while let Some(head) = read_head(&mut stream, &mut pending).await {
            let answer: &[u8] = if head.starts_with("GET /close ") {
                b"HTTP/1.1 200 OK\r\n\r\nuntil the end"
            } else if head.starts_with("HEAD /") {
                b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n"
            } else if head.starts_with("GET /interim ") {
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone"
            } else if head.starts_with("GET /garbage ") {
                b"NOT HTTP AT ALL\r\n\r\n"
            } else if head.starts_with("GET /short ") {
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
            };
            let _ = stream.write_all(answer).await;
            if head.starts_with("GET /close ") || head.starts_with("GET /short ") || head.starts_with("GET /garbage ") {
                return;
            }
        }
    })
    .await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    assert_eq!(
        send(&client, get(proxy, "/close")).await,
        Ok((200, "until the end".into()))
    );
    let head = http::Request::head(format!("http://{proxy}/"))
        .body(Full::default())
        .unwrap();
    assert_eq!(send(&client, head).await, Ok((200, String::new())));
    assert_eq!(
        send(&client, get(proxy, "/interim")).await,
        Ok((200, "done".into()))
    );
    let (status, _) = send(&client, get(proxy, "/garbage")).await.unwrap();
    assert_eq!(status, 502);
    assert!(
        send(&client, get(proxy, "/short")).await.is_err(),
        "a cut body must not look complete"
    );
    assert_eq!(send(&client, get(proxy, "/")).await, Ok((200, "ok".into())));
}

#[tokio::test]
async fn bodies_of_unknown_length_arrive_chunked_and_early_answers_pass() {
    let (backend, _) = scripted(|mut stream| async move {
        let mut pending = Vec::new();
        let Some(head) = read_head(&mut stream, &mut pending).await else { return };
        if head.starts_with("POST /early ") {
            // Refuses at once, without reading the body, then drains it.
            let answer = "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbig!";
            stream.write_all(answer.as_bytes()).await.unwrap();
            let mut sink = [0u8; 65536];
            while matches!(stream.read(&mut sink).await, Ok(read) if read > 0) {}
            return;
        }
        assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
        let data = read_chunked(&mut stream, &mut pending).await;
        let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{}", data.len().to_string().len(), data.len());
        stream.write_all(answer.as_bytes()).await.unwrap();
    })
    .await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let pieces = (0..50).map(|index| {
        Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from(vec![
            b'a' + (index % 26)
                as u8;
            1000
        ])))
    });
    let streamed = StreamBody::new(futures_util::stream::iter(pieces));
    let upload = http::Request::post(format!("http://{proxy}/upload"))
        .body(streamed)
        .unwrap();
    assert_eq!(send(&client, upload).await, Ok((200, "50000".into())));

    let early = http::Request::post(format!("http://{proxy}/early"))
        .body(Full::new(Bytes::from(vec![b'x'; 64 * 1024])))
        .unwrap();
    assert_eq!(
        send(&Client::builder(TokioExecutor::new()).build_http(), early).await,
        Ok((413, "big!".into()))
    );
}

/// `length` bytes that say where they are: a byte out of place shows.
fn patterned(length: usize) -> Vec<u8> {
    (0..length).map(|index| (index % 251) as u8).collect()
}

/// GETs `path` through `client` and returns the status and raw body.
async fn fetch(client: &TestClient<Full<Bytes>>, proxy: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let response = client.request(get(proxy, path)).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

// A body of known length up to 64 KiB is read whole once it has arrived,
// longer ones stream through 16 KiB: each size around those edges, with a
// Content-Length and chunked, arrives byte for byte on one reused backend
// connection.
#[tokio::test]
async fn bodies_around_the_whole_body_read_arrive_exact_on_one_connection() {
    let (backend, accepted) = scripted(|mut stream| async move {
        let mut pending = Vec::new();
        while let Some(head) = read_head(&mut stream, &mut pending).await {
            let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (chunked, length) = match target.strip_prefix("/chunked/") {
                Some(length) => (true, length.parse::<usize>().unwrap()),
                None => (false, target[1..].parse::<usize>().unwrap()),
            };
            let body = patterned(length);
            let mut answer = Vec::new();
            if chunked {
                answer.extend_from_slice(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
                for piece in body.chunks(20_000) {
                    answer.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    answer.extend_from_slice(piece);
                    answer.extend_from_slice(b"\r\n");
                }
                answer.extend_from_slice(b"0\r\n\r\n");
            } else {
                answer.extend_from_slice(
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n").as_bytes(),
                );
                answer.extend_from_slice(&body);
            }
            stream.write_all(&answer).await.unwrap();
        }
    })
    .await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    for length in [
        0,
        1,
        16_383,
        16_384,
        16_385,
        65_535,
        65_536,
        65_537,
        1 << 20,
    ] {
        for path in [format!("/{length}"), format!("/chunked/{length}")] {
            let (status, body) = fetch(&client, proxy, &path).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(body.len(), length, "{path}");
            assert!(body == patterned(length), "{path}: bytes out of place");
        }
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one keep-alive backend connection"
    );
}

// A 64 KiB body that arrives in pieces is passed on piece by piece: the
// proxy does not wait for the whole body it will read in one go. Each
// piece is sent only once the client has the one before.
#[tokio::test]
async fn a_64_kib_body_arriving_in_pieces_is_passed_on_as_it_comes() {
    const PIECES: usize = 7;
    let length = 64 * 1024;
    let (next, more) = tokio::sync::mpsc::unbounded_channel::<()>();
    let more = Arc::new(tokio::sync::Mutex::new(more));
    let (backend, _) = scripted(move |mut stream| {
        let more = more.clone();
        async move {
            let mut pending = Vec::new();
            read_head(&mut stream, &mut pending).await.unwrap();
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            let body = patterned(length);
            let mut more = more.lock().await;
            for piece in body.chunks(length.div_ceil(PIECES)) {
                stream.write_all(piece).await.unwrap();
                if more.recv().await.is_none() {
                    return;
                }
            }
        }
    })
    .await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(get(proxy, "/")).await.unwrap();
    let mut body = response.into_body();
    let mut received = Vec::new();
    let mut asked = 0;
    // A bound, not a wait: a proxy holding the pieces back would hang here.
    let bound = std::time::Duration::from_secs(30);
    while let Some(frame) = tokio::time::timeout(bound, body.frame())
        .await
        .expect("the proxy held the pieces back")
    {
        if let Ok(data) = frame.unwrap().into_data() {
            received.extend_from_slice(&data);
            // Everything sent so far has come through: ask for the next piece.
            while asked < PIECES
                && received.len() >= (asked + 1) * length.div_ceil(PIECES).min(length)
            {
                asked += 1;
                let _ = next.send(());
            }
        }
    }
    assert_eq!(received.len(), length);
    assert!(received == patterned(length), "bytes out of place");
}

// Bytes a backend sends past a body's Content-Length are not the next
// answer's: the connection is not reused, and the next request gets its own.
#[tokio::test]
async fn bytes_past_a_64_kib_body_keep_its_connection_out_of_the_pool() {
    let (backend, accepted) = scripted(|mut stream| async move {
        let mut pending = Vec::new();
        if read_head(&mut stream, &mut pending).await.is_some() {
            let mut answer = b"HTTP/1.1 200 OK\r\ncontent-length: 65536\r\n\r\n".to_vec();
            answer.extend_from_slice(&patterned(65_536));
            answer.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale");
            stream.write_all(&answer).await.unwrap();
            // Keep the connection open: only the proxy may decide to drop it.
            let _ = read_head(&mut stream, &mut pending).await;
        }
    })
    .await;
    let (proxy, _stop) = proxy_to(backend, Settings::default()).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let (status, body) = fetch(&client, proxy, "/").await;
    assert_eq!((status, body.len()), (200, 65_536));
    assert!(body == patterned(65_536), "bytes out of place");
    let (status, body) = fetch(&client, proxy, "/").await;
    assert_eq!(status, 200);
    assert!(
        body == patterned(65_536),
        "the next answer was the stale bytes"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "a fresh backend connection"
    );
}

/// Broke: idle pooled backend connections were never closed, so after a
/// burst the proxy held up to 256 sockets (and app workers) per backend for good.
#[tokio::test]
async fn an_idle_backend_connection_was_kept_open_for_good_after_a_burst() {
    let (closed_tx, mut closed) = tokio::sync::mpsc::unbounded_channel();
    let (backend, accepted) = scripted(move |mut stream| {
        let closed_tx = closed_tx.clone();
        async move {
            let mut pending = Vec::new();
            while read_head(&mut stream, &mut pending).await.is_some() {
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
            let _ = closed_tx.send(());
        }
    })
    .await;
    let settings = Settings {
        idle_timeout: std::time::Duration::from_secs(2),
        ..Settings::default()
    };
    let (proxy, _stop) = proxy_to(backend, settings).await;
    // A new client connection per request: the proxy closes idle client
    // connections on the same timeout, and a request written on one as it
    // closes would fail for a reason this test is not about.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    for _ in 0..3 {
        assert_eq!(send(&client, get(proxy, "/")).await, Ok((200, "ok".into())));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one pooled connection");
    // No more requests: the proxy closes its idle connection by itself.
    let waited = tokio::time::timeout(std::time::Duration::from_secs(10), closed.recv()).await;
    assert!(
        waited.is_ok(),
        "the idle backend connection was still open 10 s after its 2 s idle timeout"
    );
    // A later request gets a fresh connection and its answer.
    assert_eq!(send(&client, get(proxy, "/")).await, Ok((200, "ok".into())));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
