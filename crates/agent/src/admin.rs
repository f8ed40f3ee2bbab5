//! The admin API: JSON over HTTP/1.1 on a Unix socket (mode 0600).
//!
//! | method | path | does |
//! |---|---|---|
//! | GET | `/v1/status` | [`AgentStatus`](crate::AgentStatus) |
//! | POST | `/v1/activate` | `{"release": ID}` → [`Activated`](crate::Activated), or 409 `{"error"}` |
//! | POST | `/v1/maintenance` | `{"maintenance": {...} | null}` → [`AgentStatus`](crate::AgentStatus) |
//! | POST | `/v1/pause` | `{"max_ms": N}`: hold new requests; answers once in-flight ones finished |
//! | POST | `/v1/resume` | release held requests |
//! | POST | `/v1/handover` | `{"socket": PATH}`: send the public listener there, then drain |

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
}

#[derive(Deserialize)]
struct DataRequest {
    version: String,
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

fn spawn_connection<I>(io: TokioIo<I>, agent: Arc<Agent>, token: Option<Arc<str>>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let service = service_fn(move |request| handle(agent.clone(), request, token.clone()));
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    });
}

/// Whether `request` carries `Authorization: Bearer <token>` (compared in constant time).
fn authorized(request: &Request<Incoming>, token: &str) -> bool {
    let Some(given) = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some(given) = given.strip_prefix("Bearer ") else {
        return false;
    };
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

async fn handle(
    agent: Arc<Agent>,
    request: Request<Incoming>,
    token: Option<Arc<str>>,
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
            Ok(wanted) => reply(StatusCode::CONFLICT, agent.activate(&wanted.release).await),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/maintenance") => match body::<MaintenanceRequest>(request).await {
            Ok(wanted) => {
                agent.set_maintenance(wanted.maintenance);
                match agent.persist().await {
                    Ok(()) => json(StatusCode::OK, &agent.status().await),
                    Err(error) => failure(StatusCode::INTERNAL_SERVER_ERROR, &error),
                }
            }
            Err(bad) => bad,
        },
        (Method::POST, "/v1/hold") => match body::<HoldRequest>(request).await {
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
            Ok(wanted) => reply(StatusCode::CONFLICT, agent.drain(&wanted.backend).await),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/undrain") => match body::<BackendRequest>(request).await {
            Ok(wanted) => reply(
                StatusCode::CONFLICT,
                agent
                    .undrain(&wanted.backend)
                    .map(|()| serde_json::json!({ "undrained": wanted.backend })),
            ),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/abort") => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            agent
                .abort()
                .await
                .map(|release| serde_json::json!({ "aborted": release })),
        ),
        (Method::POST, "/v1/pause") => match body::<PauseRequest>(request).await {
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
        (Method::POST, "/v1/data") => match body::<DataRequest>(request).await {
            Ok(wanted) => reply(
                StatusCode::CONFLICT,
                agent.data_rolled(&wanted.version).await,
            ),
            Err(bad) => bad,
        },
        (Method::POST, "/v1/drained") => match body::<ActivateRequest>(request).await {
            Ok(wanted) => {
                let drained = agent.wait_drained(&wanted.release).await;
                json(StatusCode::OK, &serde_json::json!({ "drained": drained }))
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

/// Reads and parses a JSON request body; the error is the 400 to send.
async fn body<T: serde::de::DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, Response<Full<Bytes>>> {
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    serde_json::from_slice(&bytes).map_err(|error| {
        json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "error": format!("bad request body: {error}") }),
        )
    })
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
