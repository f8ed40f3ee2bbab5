//! The metrics listener: plain HTTP/1.1 on an address of its own, with a
//! small read-only router. `/metrics` is one route; a status page at `/`
//! is meant to be another ([`Routes::get`]). Anything else is 404, any
//! method but `GET` or `HEAD` 405.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A scraper that sends no whole request head within this is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// One answer of a read-only route.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// The `Content-Type`.
    pub(crate) content_type: &'static str,
    /// The body.
    pub(crate) body: String,
}

/// Makes a route's page, afresh for each request.
pub(crate) type Handler = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Page> + Send>> + Send + Sync>;

/// Paths and what answers them.
#[derive(Default, Clone)]
pub(crate) struct Routes {
    routes: Vec<(&'static str, Handler)>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<&str> = self.routes.iter().map(|(path, _)| *path).collect();
        f.debug_struct("Routes").field("paths", &paths).finish()
    }
}

impl Routes {
    /// Answers `GET path` (exactly) with `handler`'s page.
    pub(crate) fn get(mut self, path: &'static str, handler: Handler) -> Routes {
        self.routes.push((path, handler));
        self
    }

    async fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET here\n");
        }
        let Some((_, handler)) = self
            .routes
            .iter()
            .find(|(path, _)| *path == request.uri().path())
        else {
            return plain(
                StatusCode::NOT_FOUND,
                "not found: /metrics is for Prometheus, / is the status page\n",
            );
        };
        let page = handler().await;
        let mut response = Response::new(Full::new(Bytes::from(page.body)));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(page.content_type),
        );
        response
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

/// Serves `routes` on `listener` until `shutdown` resolves.
pub(crate) async fn serve(
    listener: TcpListener,
    routes: Routes,
    shutdown: impl Future<Output = ()>,
) {
    let routes = Arc::new(routes);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "metrics accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let routes = routes.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let routes = routes.clone();
                async move { Ok::<_, std::convert::Infallible>(routes.answer(&request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
