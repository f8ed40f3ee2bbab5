//! What the proxy's integration tests share: a proxy on 127.0.0.1:0 and
//! hyper backends answering with a closure.
// Each test file uses its own subset.
#![allow(dead_code)]

use bytes::Bytes;
use hoist_proxy::{Backend, Proxy, Router, Settings};
use http_body_util::Full;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// A proxy on 127.0.0.1:0 routing to `backend` (release `r1`); stops when
/// the returned sender drops.
pub async fn proxy_to(
    backend: SocketAddr,
    settings: Settings,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let router = Arc::new(Router::default());
    router.set_live(Arc::new(Backend::new("r1", backend)));
    proxy_with(router, settings).await
}

/// A proxy on 127.0.0.1:0 routing through `router`; stops when the
/// returned sender drops.
pub async fn proxy_with(
    router: Arc<Router>,
    settings: Settings,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let proxy = Arc::new(Proxy::new(router, settings));
    tokio::spawn(hoist_proxy::serve(listener, proxy, async move {
        let _ = stopped.await;
    }));
    (address, stop)
}

/// An HTTP/1.1 backend (hyper) on 127.0.0.1:0 answering every request with `answer`.
pub async fn hyper_backend<F, Fut>(answer: F) -> SocketAddr
where
    F: Fn(http::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<Full<Bytes>>, hyper::Error>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(answer.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// A backend answering `METHOD TARGET host=HOST` and counting what reached it.
pub async fn counting_backend() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    let address = hyper_backend(move |request| {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let host = request
                .headers()
                .get("host")
                .and_then(|host| host.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let line = format!("{} {} host={host}", request.method(), request.uri());
            Ok(http::Response::new(Full::new(Bytes::from(line))))
        }
    })
    .await;
    (address, seen)
}

/// Sends `request` on a fresh connection from `source` (any 127.0.0.0/8
/// address: other clients, as far as the proxy can tell) and returns
/// everything the proxy sends until it closes.
pub async fn exchange_from(source: std::net::IpAddr, proxy: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    let mut stream = socket.connect(proxy).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut text = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut text),
    )
    .await
    .expect("the proxy answered and closed in time")
    .unwrap();
    String::from_utf8_lossy(&text).into_owned()
}

/// [`exchange_from`] 127.0.0.1.
pub async fn exchange(proxy: SocketAddr, request: &[u8]) -> String {
    exchange_from([127, 0, 0, 1].into(), proxy, request).await
}
