//! Forwarding one request to the live backend.

use crate::backend::InFlight;
use crate::body::{BoxError, Guarded, ProxyBody};
use crate::throttle::{warn_throttled, Throttle};
use crate::upstream::{self, Answer};
use crate::{headers, pages, Backend, Peer, Router};
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Proxy behaviour from `[proxy]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Response header naming the release that answered; `None` turns it off.
    pub release_header: Option<HeaderName>,
    /// Connecting to a backend may take this long (then 502).
    pub connect_timeout: Duration,
    /// The app may take no request bytes and send no response bytes for
    /// this long before its head arrives (then 504).
    pub response_timeout: Duration,
    /// A connection on which no byte moves either way for this long is
    /// given up: an idle keep-alive client is closed, a head or body that
    /// stops arriving gets 408, a stalled response body is cut. Upgraded
    /// connections (websockets) are exempt; an HTTP/2 client silent this
    /// long is pinged, and closed if it does not answer. A pooled
    /// keep-alive connection to a backend idle this long is closed.
    pub idle_timeout: Duration,
    /// A request head must arrive whole within this, counted from its
    /// first byte (from the accept, for a connection's first request),
    /// however steadily it trickles in; then 408 and close. Capped at
    /// `idle_timeout`.
    pub header_timeout: Duration,
    /// A request body must arrive at least this fast (bytes per second) on
    /// average, after a grace of `header_timeout`; then 408 and close. 0
    /// turns it off.
    pub min_body_rate: u64,
    /// Client connections open at once. At the cap the one that has waited
    /// longest without a request in flight is closed; if none waits, the
    /// newcomer gets 503.
    pub max_connections: usize,
    /// Client connections open at once from one address (then 503); 0
    /// means no such limit.
    pub max_connections_per_client: usize,
    /// Request bodies over this many bytes get 413.
    pub max_body_size: u64,
    /// TLS for the public listener; `None` serves plain HTTP (and h2c).
    pub tls: Option<crate::Tls>,
    /// The app's health path: always passed to the app, even in maintenance.
    pub health_path: String,
    /// The app's own pages for 502/503/504, relative to `releases/<id>/` under `releases`.
    pub error_pages: std::collections::BTreeMap<u16, std::path::PathBuf>,
    /// The site's `releases/` dir, where `error_pages` are looked up.
    pub releases: std::path::PathBuf,
    /// Response header naming the live data version; `None` turns it off.
    pub data_header: Option<HeaderName>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            release_header: Some(HeaderName::from_static("x-hoist-release")),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(60),
            min_body_rate: 1024,
            max_connections: 10_000,
            max_connections_per_client: 0,
            max_body_size: 100 * 1024 * 1024,
            tls: None,
            health_path: "/healthz".to_owned(),
            error_pages: std::collections::BTreeMap::new(),
            releases: std::path::PathBuf::new(),
            data_header: Some(HeaderName::from_static("x-hoist-data")),
        }
    }
}

/// Forwards requests to whatever the router names, with pooled keep-alive
/// connections to each backend.
#[derive(Debug)]
pub struct Proxy {
    router: Arc<Router>,
    settings: Settings,
    /// Set while shutting down or handing over: every response then says
    /// `Connection: close`, so keep-alive clients reconnect *after* a
    /// complete answer instead of racing an idle close.
    closing: std::sync::atomic::AtomicBool,
    /// Every open client connection; here rather than in [`crate::serve`]
    /// so their number can be read (`/metrics`) while it serves.
    connections: Arc<crate::connections::Registry>,
}

impl Proxy {
    /// A proxy routing through `router`.
    pub fn new(router: Arc<Router>, settings: Settings) -> Proxy {
        Proxy {
            router,
            connections: Arc::new(crate::connections::Registry::new(
                settings.max_connections,
                settings.max_connections_per_client,
            )),
            settings,
            closing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Client connections open now (counted against `max_connections`).
    pub fn open_connections(&self) -> usize {
        self.connections.counted()
    }

    /// The connection registry [`crate::serve`] admits through.
    pub(crate) fn connections(&self) -> &Arc<crate::connections::Registry> {
        &self.connections
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

    /// How long a connection may go without a byte moving.
    pub(crate) fn idle_timeout(&self) -> Duration {
        self.settings.idle_timeout
    }

    /// How long a request head may take to arrive: never longer than a
    /// connection may stay silent.
    pub(crate) fn header_timeout(&self) -> Duration {
        self.settings.header_timeout.min(self.settings.idle_timeout)
    }

    /// The rate request bodies must keep up, in bytes per second (0: none).
    pub(crate) fn min_body_rate(&self) -> u64 {
        self.settings.min_body_rate
    }

    /// The router this proxy reads.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// Handles one client request from `peer`, whatever its body type
    /// (hoist's HTTP/1 server or hyper's HTTP/2 one).
    pub async fn handle<B>(&self, request: Request<B>, peer: &Peer) -> Response<ProxyBody>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let mut response = self.route(request, peer).await;
        let closing = self.closing.load(std::sync::atomic::Ordering::SeqCst);
        if closing && response.status() != StatusCode::SWITCHING_PROTOCOLS {
            response
                .headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }

    /// Not an `async fn`, nor are [`Proxy::forward`] and
    /// [`crate::upstream::exchange`]: an `async fn` copies its arguments
    /// into locals and keeps both in its future (rust-lang/rust#62958), and
    /// these futures make up each request's boxed work (they sat in every
    /// connection's task, idle or not, when they took 800 bytes of its 4.4 KB).
    #[allow(clippy::manual_async_fn)]
    fn route<'a, B>(
        &'a self,
        mut request: Request<B>,
        peer: &'a Peer,
    ) -> impl std::future::Future<Output = Response<ProxyBody>> + 'a
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        async move {
            let client = peer.addr;
            if let Some(answer) = self.screen(&mut request, peer) {
                return answer;
            }
            match self.router.gate().pass().await {
                crate::pause::Passage::Open => {}
                crate::pause::Passage::Expired | crate::pause::Passage::Full => {
                    let paused = crate::Maintenance {
                        message: "We are making a quick change. Please try again in a moment."
                            .into(),
                        ..Default::default()
                    };
                    return paused.response(wants_json(&request), jiff::Timestamp::now());
                }
            }
            // Static backends, when configured, take the place of the live release.
            let pool_pick = match self.router.members() {
                Some(members) => match members.pick() {
                    Some(member) => Some(member.backend.clone()),
                    None => {
                        return pages::error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "No backend is available right now. Please try again shortly.",
                        )
                    }
                },
                None => None,
            };
            let live = pool_pick.clone().or_else(|| self.router.live());
            let steering = self.router.candidate().filter(|_| pool_pick.is_none());
            let (backend, pin_bucket) = match (live, steering) {
                (Some(live), Some(steering)) => {
                    let choice = steering.choose(client.ip(), request.headers());
                    (
                        if choice.candidate {
                            steering.backend.clone()
                        } else {
                            live
                        },
                        choice.set_bucket,
                    )
                }
                (Some(live), None) => (live, None),
                // Nothing live yet (a first deploy): test traffic still reaches
                // a held candidate, so its link walk runs before it goes live.
                (None, Some(steering)) if steering.is_test(client.ip(), request.headers()) => {
                    (steering.backend.clone(), None)
                }
                (None, _) => {
                    return pages::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "No release is running yet. Please try again shortly.",
                    )
                }
            };
            // Counted before anything awaits, so a switch that starts draining now waits for this request.
            let guard = InFlight::new(backend.clone());
            let started = Instant::now();
            let mut response = self.forward(request, peer, &backend, guard).await;
            let proxy_made = response.extensions().get::<pages::ProxyMade>().is_some();
            if proxy_made {
                response = self.own_page(response, backend.release()).await;
            }
            backend.record(response.status().as_u16(), started.elapsed(), proxy_made);
            if let (Some(name), Some(value)) =
                (&self.settings.release_header, backend.release_value())
            {
                response.headers_mut().insert(name.clone(), value.clone());
            }
            if let Some(name) = &self.settings.data_header {
                if let Some(version) = &*self.router.data_version() {
                    response
                        .headers_mut()
                        .insert(name.clone(), HeaderValue::clone(version));
                }
            }
            if let Some(bucket) = pin_bucket {
                // Keeps a canary client on its side even if its address changes.
                let cookie = format!(
                    "{}={bucket}; Path=/; Max-Age=2592000; SameSite=Lax",
                    crate::BUCKET_COOKIE
                );
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    response
                        .headers_mut()
                        .append(http::header::SET_COOKIE, value);
                }
            }
            response
        }
    }

    /// What is answered before any backend is chosen: `CONNECT`, a path
    /// with no normal form, maintenance. On the way, the path is put in its
    /// normal form: every rule after this, and the app, sees only that.
    #[inline]
    fn screen<B>(&self, request: &mut Request<B>, peer: &Peer) -> Option<Response<ProxyBody>> {
        // HTTP/1 refuses CONNECT as it parses the head; HTTP/2's ends here.
        if request.method() == http::Method::CONNECT {
            return Some(pages::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "This site does not tunnel with CONNECT.",
            ));
        }
        let slashed = match normalise_path(request.uri_mut()) {
            Ok(slashed) => slashed,
            Err(bad) => return Some(pages::error(StatusCode::BAD_REQUEST, bad.why())),
        };
        let maintenance = self.router.maintenance()?;
        let path = slashed.as_deref().unwrap_or(request.uri().path());
        maintenance
            .applies(path, peer.addr.ip(), &self.settings.health_path)
            .then(|| maintenance.response(wants_json(request), jiff::Timestamp::now()))
    }

    #[allow(clippy::manual_async_fn)] // on purpose: see `Proxy::route`
    fn forward<'a, B>(
        &'a self,
        request: Request<B>,
        peer: &'a Peer,
        backend: &'a Arc<Backend>,
        guard: InFlight,
    ) -> impl std::future::Future<Output = Response<ProxyBody>> + 'a
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        // Not an `async fn`: see `Proxy::route`.
        async move {
            // The server has parsed `Content-Length` into the body's size already.
            let declared = http_body::Body::size_hint(request.body()).exact();
            if declared.is_some_and(|length| length > self.settings.max_body_size) {
                return pages::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The request body is larger than this site accepts.",
                );
            }
            // One pass of cheap name comparisons instead of a hashed lookup each.
            let (mut has_host, mut has_connection) = (false, false);
            for name in request.headers().keys() {
                has_host |= *name == http::header::HOST;
                has_connection |= *name == http::header::CONNECTION;
            }
            let upgrade = has_connection
                .then(|| headers::upgrade_of(request.headers()))
                .flatten();
            let (mut parts, body) = request.into_parts();
            // HTTP/2 clients name the host in `:authority`; HTTP/1.1 backends
            // need `Host`. An HTTP/1.0 client may name none: the backend's own
            // address stands in, as nginx sends its `$proxy_host`.
            if !has_host {
                let host = parts
                    .uri
                    .authority()
                    .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
                    .or_else(|| HeaderValue::from_str(&backend.addr().to_string()).ok());
                if let Some(host) = host {
                    parts.headers.insert(http::header::HOST, host);
                }
            }
            // Backends speak HTTP/1.1 whatever the client spoke.
            parts.version = http::Version::HTTP_11;
            headers::strip_hop_by_hop(&mut parts.headers);
            if let Some(protocol) = &upgrade {
                parts.headers.insert(
                    http::header::CONNECTION,
                    HeaderValue::from_static("upgrade"),
                );
                parts
                    .headers
                    .insert(http::header::UPGRADE, protocol.clone());
            }
            // Most requests have no body: no limiter, no box, nothing to send.
            let body = (!http_body::Body::is_end_stream(&body)).then(|| {
                Limited::new(body, self.settings.max_body_size as usize)
                    .map_err(BoxError::from)
                    .boxed()
            });
            let sent = upstream::exchange(backend, parts, body, peer, &self.settings).await;
            let answer = match sent {
                Ok(answer) => answer,
                Err(error) => {
                    let status = error.status();
                    if error.is_backend_side() {
                        warn_throttled!(BACKEND_FAILED, release = backend.release(), %error, "backend request failed");
                    } else if status == StatusCode::REQUEST_TIMEOUT {
                        warn_throttled!(SLOW_BODY, client = %peer.addr, %error, "request body too slow; answered 408 (see `[proxy] min_body_rate`)");
                    } else {
                        tracing::debug!(release = backend.release(), %error, "client request failed");
                    }
                    let why = match status {
                        StatusCode::BAD_GATEWAY => {
                            "The application did not answer. Please try again in a moment."
                        }
                        StatusCode::GATEWAY_TIMEOUT => {
                            "The application took too long to answer. Please try again."
                        }
                        StatusCode::REQUEST_TIMEOUT => "The request body took too long to arrive.",
                        _ => "The request body could not be read.",
                    };
                    return pages::error(status, why);
                }
            };
            let response = match answer {
                Answer::Response(response) => response,
                Answer::Switched(mut parts, connection) => {
                    // Only HTTP/1 clients ask to upgrade (HTTP/2 has no `Connection`).
                    if upgrade.is_none() {
                        tracing::warn!(
                            release = backend.release(),
                            "backend switched protocols unasked"
                        );
                        return pages::error(
                            StatusCode::BAD_GATEWAY,
                            "The application did not answer. Please try again in a moment.",
                        );
                    }
                    parts
                        .extensions
                        .insert(crate::h1::Tunnel::new(connection, guard));
                    // The backend's `Upgrade` names the protocol it switched to.
                    let switched_to = parts.headers.get(http::header::UPGRADE).cloned();
                    headers::strip_hop_by_hop(&mut parts.headers);
                    parts.headers.insert(
                        http::header::CONNECTION,
                        HeaderValue::from_static("upgrade"),
                    );
                    if let Some(protocol) = switched_to.or(upgrade) {
                        parts.headers.insert(http::header::UPGRADE, protocol);
                    }
                    return Response::from_parts(
                        parts,
                        http_body_util::Empty::new()
                            .map_err(|never| match never {})
                            .boxed(),
                    );
                }
            };
            let (mut parts, body) = response.into_parts();
            headers::strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Guarded::wrap(body, guard))
        }
    }

    /// Swaps a proxy-made error body for the app's own page, when configured and readable.
    async fn own_page(&self, response: Response<ProxyBody>, release: &str) -> Response<ProxyBody> {
        let Some(page) = self.settings.error_pages.get(&response.status().as_u16()) else {
            return response;
        };
        match tokio::fs::read(self.settings.releases.join(release).join(page)).await {
            Ok(html) => pages::with_body(response, html),
            Err(error) => {
                tracing::warn!(page = %page.display(), %error, "error page unreadable; using the built-in one");
                response
            }
        }
    }
}

/// Failures a flood can cause one of per request, logged at most once a second.
static BACKEND_FAILED: Throttle = Throttle::new("backend request failed");
static SLOW_BODY: Throttle = Throttle::new("request body too slow");

/// Puts `uri`'s path into its normal form (see [`crate::path`]), keeping the
/// query; returns the form rules match when it differs (an escaped `/`).
#[inline]
fn normalise_path(uri: &mut http::Uri) -> Result<Option<String>, crate::path::BadPath> {
    // Most paths need no look beyond one scan; `OPTIONS *` names no resource.
    if crate::path::is_plain(uri.path()) || uri.path() == "*" {
        return Ok(None);
    }
    let normal = crate::path::normalise(uri.path())?;
    if let Some(path) = normal.path {
        let target = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let mut parts = std::mem::take(uri).into_parts();
        // Only ASCII was changed in a path that parsed, so it parses again.
        parts.path_and_query = Some(target.parse().map_err(|_| crate::path::BadPath::Escape)?);
        *uri = http::Uri::from_parts(parts).map_err(|_| crate::path::BadPath::Escape)?;
    }
    if !normal.escaped_slash {
        return Ok(None);
    }
    crate::path::match_form(uri.path()).map(|form| Some(form.into_owned()))
}

/// Whether the client asked for JSON rather than a page.
fn wants_json<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}
