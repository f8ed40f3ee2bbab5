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
