//! The admin API: JSON over HTTP/1.1 on a Unix socket (mode 0600).
//!
//! | method | path | does |
//! |---|---|---|
//! | GET | `/v1/status` | [`AgentStatus`](crate::AgentStatus) |
//! | POST | `/v1/activate` | `{"release": ID}` → [`Activated`](crate::Activated), or 409 `{"error"}` |
//! | POST | `/v1/maintenance` | `{"maintenance": {...} | null}` → [`AgentStatus`](crate::AgentStatus) |
//! | POST | `/v1/pause` | `{"max_ms": N}`: hold new requests; answers once in-flight ones finished |
//! | POST | `/v1/resume` | release held requests |
//! | POST | `/v1/data` | [`DataRoll`](crate::DataRoll) → [`DataReloaded`](crate::DataReloaded), or 409 `{"error"}` (the app did not take it: the data was put back) |
//! | POST | `/v1/handover` | `{"socket": PATH}`: send the public listener there, then drain |
//!
//! Bodies over [`MAX_BODY`] get 413, durations and times over
//! [`hoist_config::MAX_DURATION`] get 400, and a TCP listener compares its
//! bearer token in constant time (as BLAKE3 digests, so neither the
//! token's content nor its length shows in the timing).

use crate::Agent;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};

#[derive(Deserialize)]
struct ActivateRequest {
    release: String,
    /// Watch the release after the switch (and roll back on our own):
    /// for forward moves, never for a rollback.
    #[serde(default)]
    watch: bool,
}

#[derive(Deserialize)]
struct MaintenanceRequest {
    maintenance: Option<hoist_proxy::Maintenance>,
}

#[derive(Deserialize)]
struct HoldRequest {
    release: String,
    #[serde(default)]
    test_from: Vec<String>,
}

#[derive(Deserialize)]
struct BackendRequest {
    backend: String,
    /// `hoist drain --force`: drain even the last healthy backend.
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize)]
struct CanaryRequest {
    percent: u8,
}

#[derive(Deserialize)]
struct PauseRequest {
    max_ms: u64,
}

#[derive(Deserialize)]
struct HandoverRequest {
    socket: std::path::PathBuf,
}

/// The largest request body the admin API reads: its requests are a few
/// hundred bytes of JSON; four 200 MB bodies once took the agent to 1 GB.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// What the admin API can listen on: the Unix socket, or TCP.
pub(crate) trait AdminListener: Send + Sync + 'static {
    /// The accepted connection.
    type Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    /// The next connection.
    fn next(&self) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl AdminListener for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn next(&self) -> std::io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

impl AdminListener for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn next(&self) -> std::io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

/// Serves the admin API until `shutdown` resolves. With a `token`, every
/// request must carry it as a bearer token (TCP); without, the Unix
/// socket's 0600 mode is the authentication.
pub(crate) async fn serve(
    listener: impl AdminListener,
    agent: Arc<Agent>,
    token: Option<Arc<str>>,
    shutdown: impl Future<Output = ()>,
) {
    // Kept as a digest: compared in constant time, whatever a client sends.
    let token = token.map(|token| Arc::new(blake3::hash(token.as_bytes())));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.next() => match accepted {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        spawn_connection(TokioIo::new(stream), agent.clone(), token.clone());
    }
}

fn spawn_connection<I>(io: TokioIo<I>, agent: Arc<Agent>, token: Option<Arc<blake3::Hash>>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let service = service_fn(move |request| {
            // Each request runs in a task of its own: hyper drops a
            // request's future when its client goes away, and a change of
            // live state (a data reload, a switch) stopped halfway would
            // leave it half made. Spawned, it runs to its end whoever waits.
            let handled = tokio::spawn(handle(agent.clone(), request, token.clone()));
            async move {
                handled.await.unwrap_or_else(|error| {
                    tracing::error!(%error, "an admin request's handler failed");
                    Ok(json(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &serde_json::json!({ "error": "the agent failed to handle the request; see its log" }),
                    ))
                })
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    });
}

/// Whether `request` carries `Authorization: Bearer <token>`. The digests
/// are compared (`blake3::Hash` equality is constant-time), so the time
/// taken says nothing about how much of the token a guess got right, nor
/// how long the token is.
fn authorized(request: &Request<Incoming>, token: &blake3::Hash) -> bool {
    let given = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "));
    given.is_some_and(|given| blake3::hash(given) == *token)
}

async fn handle(
    agent: Arc<Agent>,
    request: Request<Incoming>,
    token: Option<Arc<blake3::Hash>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if let Some(token) = token {
        if !authorized(&request, &token) {
            return Ok(json(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({ "error": "missing or wrong bearer token" }),
            ));
        }
    }
    let route = (request.method().clone(), request.uri().path().to_owned());
    let response = match (route.0, route.1.as_str()) {
        (Method::GET, "/v1/status") => json(StatusCode::OK, &agent.status().await),
        (Method::POST, "/v1/activate") => match body::<ActivateRequest>(request).await {
            Ok(wanted) => {
                let activated = agent.activate(&wanted.release, wanted.watch).await;
                let switch = if wanted.watch {
                    crate::metrics::Switch::Deploy
                } else {
                    crate::metrics::Switch::Rollback
                };
                agent.events().switched(switch, activated.is_ok());
                reply(StatusCode::CONFLICT, activated)
            }
            Err(bad) => bad,
        },
        (Method::POST, "/v1/maintenance") => match body::<MaintenanceRequest>(request).await {
            Ok(wanted) if !until_in_bounds(wanted.maintenance.as_ref()) => bad_request(&format!(
                "`maintenance.until` must be in the next {} days",
                hoist_config::MAX_DURATION.as_secs() / 86_400
            )),
            Ok(wanted) => match wanted
                .maintenance
                .map(hoist_proxy::Maintenance::checked)
                .transpose()
            {
                Err(problem) => bad_request(&format!("`maintenance`: {problem}")),
                Ok(maintenance) => {
                    agent.set_maintenance(maintenance);
                    agent.refresh_maintenance();
                    match agent.persist().await {
                        Ok(()) => json(StatusCode::OK, &agent.status().await),
                        Err(error) => failure(StatusCode::INTERNAL_SERVER_ERROR, &error),
                    }
                }
            },
            Err(bad) => bad,
        },
        (Method::POST, "/v1/hold") => match body::<HoldRequest>(request).await {
            Ok(wanted)
                if !wanted
                    .test_from
                    .iter()
                    .all(|cidr| hoist_proxy::is_valid_cidr(cidr)) =>
            {
                bad_request("`test_from` holds something that is not a network like 10.1.0.0/16")
            }
            Ok(wanted) => match agent.hold(&wanted.release, wanted.test_from).await {
                Ok(()) => json(StatusCode::OK, &agent.status().await),
                Err(error) => failure(StatusCode::CONFLICT, &error),
            },
            Err(bad) => bad,
        },
        (Method::POST, "/v1/canary") => match body::<CanaryRequest>(request).await {
            Ok(wanted) => reply(StatusCode::CONFLICT, agent.canary(wanted.percent).await),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/drain") => match body::<BackendRequest>(request).await {
            Ok(wanted) => reply(
                StatusCode::CONFLICT,
                agent.drain(&wanted.backend, wanted.force).await,
            ),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/undrain") => match body::<BackendRequest>(request).await {
            Ok(wanted) => reply(
                StatusCode::CONFLICT,
                agent
                    .undrain(&wanted.backend)
                    .await
                    .map(|()| serde_json::json!({ "undrained": wanted.backend })),
            ),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/restart") => reply(
            StatusCode::CONFLICT,
            agent
                .restart()
                .await
                .map(|how| serde_json::json!({ "restarted": how })),
        ),
        (Method::POST, "/v1/abort") => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            agent
                .abort()
                .await
                .map(|release| serde_json::json!({ "aborted": release })),
        ),
        (Method::POST, "/v1/pause") => match body::<PauseRequest>(request).await {
            Ok(wanted) if u128::from(wanted.max_ms) > hoist_config::MAX_DURATION.as_millis() => {
                bad_request(&format!(
                    "`max_ms` {} is over the limit of {} (365 days)",
                    wanted.max_ms,
                    hoist_config::MAX_DURATION.as_millis()
                ))
            }
            Ok(wanted) => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                agent
                    .pause(std::time::Duration::from_millis(wanted.max_ms))
                    .await,
            ),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/resume") => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            agent
                .resume()
                .await
                .map(|()| serde_json::json!({ "resumed": true })),
        ),
        (Method::POST, "/v1/data") => match body::<crate::DataRoll>(request).await {
            Ok(roll) => reply(StatusCode::CONFLICT, agent.data_rolled(&roll).await),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/drained") => match body::<ActivateRequest>(request).await {
            Ok(wanted) => {
                let drained = agent.wait_drained(&wanted.release).await;
                json(StatusCode::OK, &serde_json::json!({ "drained": drained }))
            }
            Err(bad) => bad,
        },
        (Method::POST, "/v1/retire") => match body::<ActivateRequest>(request).await {
            Ok(wanted) => {
                let retired = agent.retire(&wanted.release).await;
                json(StatusCode::OK, &serde_json::json!({ "retired": retired }))
            }
            Err(bad) => bad,
        },
        (Method::POST, "/v1/handover") => match body::<HandoverRequest>(request).await {
            Ok(wanted) => reply(
                StatusCode::CONFLICT,
                agent
                    .hand_over(&wanted.socket)
                    .map(|()| serde_json::json!({ "handed_over": true })),
            ),
            Err(bad) => bad,
        },
        _ => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": "no such admin endpoint" }),
        ),
    };
    Ok(response)
}

/// Reads and parses a JSON request body of at most [`MAX_BODY`] bytes; the
/// error is the 400 or 413 to send.
async fn body<T: serde::de::DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, Response<Full<Bytes>>> {
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let too_large = || {
        json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &serde_json::json!({ "error": format!("request body over {MAX_BODY} bytes") }),
        )
    };
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(too_large());
    }
    let bytes = match http_body_util::Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(_) => Bytes::new(),
    };
    serde_json::from_slice(&bytes)
        .map_err(|error| bad_request(&format!("bad request body: {error}")))
}

fn bad_request(problem: &str) -> Response<Full<Bytes>> {
    json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": problem }),
    )
}

/// Whether a maintenance end time lies ahead, at most
/// [`hoist_config::MAX_DURATION`] from now.
fn until_in_bounds(maintenance: Option<&hoist_proxy::Maintenance>) -> bool {
    let Some(until) = maintenance.and_then(|maintenance| maintenance.until) else {
        return true;
    };
    let now = jiff::Timestamp::now();
    let limit = jiff::SignedDuration::try_from(hoist_config::MAX_DURATION).unwrap_or_default();
    until > now && now.checked_add(limit).is_ok_and(|latest| until <= latest)
}

/// 200 with the value, or `status` with the error's message.
fn reply(
    status: StatusCode,
    result: Result<impl serde::Serialize, crate::AgentError>,
) -> Response<Full<Bytes>> {
    match result {
        Ok(value) => json(StatusCode::OK, &value),
        Err(error) => failure(status, &error),
    }
}

fn failure(status: StatusCode, error: &crate::AgentError) -> Response<Full<Bytes>> {
    json(status, &serde_json::json!({ "error": error.to_string() }))
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().expect("valid"),
    );
    response
}
