//! Forwarding one request to the live backend.

use crate::backend::InFlight;
use crate::body::{BoxError, Guarded, ProxyBody};
use crate::{headers, pages, Backend, Router};
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Proxy behaviour from `[proxy]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Response header naming the release that answered; `None` turns it off.
    pub release_header: Option<HeaderName>,
    /// Connecting to a backend may take this long (then 502).
    pub connect_timeout: Duration,
    /// Response headers may take this long (then 504).
    pub response_timeout: Duration,
    /// Request bodies over this many bytes get 413.
    pub max_body_size: u64,
    /// TLS for the public listener; `None` serves plain HTTP (and h2c).
    pub tls: Option<crate::Tls>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            release_header: Some(HeaderName::from_static("x-hoist-release")),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            max_body_size: 100 * 1024 * 1024,
            tls: None,
        }
    }
}

/// Forwards requests to whatever the router names, with pooled keep-alive
/// connections to each backend.
#[derive(Debug)]
pub struct Proxy {
    router: Arc<Router>,
    client: Client<HttpConnector, ProxyBody>,
    settings: Settings,
    /// Set while shutting down or handing over: every response then says
    /// `Connection: close`, so keep-alive clients reconnect *after* a
    /// complete answer instead of racing an idle close.
    closing: std::sync::atomic::AtomicBool,
}

impl Proxy {
    /// A proxy routing through `router`.
    pub fn new(router: Arc<Router>, settings: Settings) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build(connector);
        Proxy {
            router,
            client,
            settings,
            closing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// From now on, ask every client to close its connection after its next response.
    pub fn start_closing(&self) {
        self.closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The TLS acceptor, if the listener speaks TLS.
    pub(crate) fn tls(&self) -> Option<&crate::Tls> {
        self.settings.tls.as_ref()
    }

    /// The router this proxy reads.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// Handles one client request arriving over `scheme` (`http` or `https`).
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        client: SocketAddr,
        scheme: &'static str,
    ) -> Response<ProxyBody> {
        let mut response = self.route(request, client, scheme).await;
        let closing = self.closing.load(std::sync::atomic::Ordering::SeqCst);
        if closing && response.status() != StatusCode::SWITCHING_PROTOCOLS {
            response
                .headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }

    async fn route(
        &self,
        request: Request<Incoming>,
        client: SocketAddr,
        scheme: &'static str,
    ) -> Response<ProxyBody> {
        let Some(backend) = self.router.live() else {
            return pages::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "No release is running yet. Please try again shortly.",
            );
        };
        // Counted before anything awaits, so a switch that starts draining now waits for this request.
        let guard = InFlight::new(backend.clone());
        let started = Instant::now();
        let mut response = self
            .forward(request, (client, scheme), &backend, guard)
            .await;
        backend.record(response.status().as_u16(), started.elapsed());
        if let Some(name) = &self.settings.release_header {
            if let Ok(value) = HeaderValue::from_str(backend.release()) {
                response.headers_mut().insert(name.clone(), value);
            }
        }
        response
    }

    async fn forward(
        &self,
        mut request: Request<Incoming>,
        (client, scheme): (SocketAddr, &'static str),
        backend: &Arc<Backend>,
        guard: InFlight,
    ) -> Response<ProxyBody> {
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.settings.max_body_size) {
            return pages::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is larger than this site accepts.",
            );
        }
        let upgrade = headers::upgrade_of(request.headers());
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        // HTTP/2 clients name the host in `:authority`; HTTP/1.1 backends need `Host`.
        if !parts.headers.contains_key(http::header::HOST) {
            if let Some(host) = parts
                .uri
                .authority()
                .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
            {
                parts.headers.insert(http::header::HOST, host);
            }
        }
        // Backends speak HTTP/1.1 whatever the client spoke.
        parts.version = http::Version::HTTP_11;
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        parts.uri = match Uri::try_from(format!("http://{}{path}", backend.addr())) {
            Ok(uri) => uri,
            Err(_) => {
                return pages::error(StatusCode::BAD_REQUEST, "The request target is not valid.")
            }
        };
        headers::strip_hop_by_hop(&mut parts.headers);
        headers::add_forwarded(&mut parts.headers, client, scheme);
        if let Some(protocol) = &upgrade {
            parts.headers.insert(
                http::header::CONNECTION,
                HeaderValue::from_static("upgrade"),
            );
            parts
                .headers
                .insert(http::header::UPGRADE, protocol.clone());
        }
        let limited = Limited::new(body, self.settings.max_body_size as usize)
            .map_err(BoxError::from)
            .boxed();
        let outgoing = Request::from_parts(parts, limited);

        let sent = tokio::time::timeout(
            self.settings.response_timeout,
            self.client.request(outgoing),
        )
        .await;
        let mut response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                tracing::warn!(release = backend.release(), error = %error_chain(&error), "backend request failed");
                return pages::error(
                    StatusCode::BAD_GATEWAY,
                    "The application did not answer. Please try again in a moment.",
                );
            }
            Err(_) => {
                return pages::error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "The application took too long to answer. Please try again.",
                );
            }
        };
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                let backend_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(tunnel(client_upgrade, backend_upgrade, guard));
                let (mut parts, _) = response.into_parts();
                parts.headers.insert(
                    http::header::CONNECTION,
                    HeaderValue::from_static("upgrade"),
                );
                return Response::from_parts(
                    parts,
                    http_body_util::Empty::new()
                        .map_err(|never| match never {})
                        .boxed(),
                );
            }
        }
        let (mut parts, body) = response.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        Response::from_parts(
            parts,
            Guarded::wrap(body.map_err(BoxError::from).boxed(), guard),
        )
    }
}

/// Copies bytes both ways for an upgraded connection; the in-flight guard
/// lives as long as the tunnel, so a drain waits for websockets too.
async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    backend: hyper::upgrade::OnUpgrade,
    _guard: InFlight,
) {
    let (client, backend) = match tokio::try_join!(client, backend) {
        Ok(both) => both,
        Err(error) => {
            tracing::warn!(error = %error, "upgrade failed");
            return;
        }
    };
    let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
    let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
