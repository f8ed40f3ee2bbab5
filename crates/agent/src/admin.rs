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

/// Serves the admin API on the Unix socket until `shutdown` resolves; the
/// socket's 0600 mode is the authentication.
pub(crate) async fn serve(
    listener: UnixListener,
    agent: Arc<Agent>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        spawn_connection(TokioIo::new(stream), agent.clone(), None);
    }
}

/// Serves the admin API over TCP; every request must carry `token` as a bearer token.
pub(crate) async fn serve_tcp(
    listener: TcpListener,
    agent: Arc<Agent>,
    token: Arc<str>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        spawn_connection(TokioIo::new(stream), agent.clone(), Some(token.clone()));
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
        (Method::POST, "/v1/activate") => {
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<ActivateRequest>(&body) {
                Ok(wanted) => match agent.activate(&wanted.release).await {
                    Ok(activated) => json(StatusCode::OK, &activated),
                    Err(error) => json(
                        StatusCode::CONFLICT,
                        &serde_json::json!({ "error": error.to_string() }),
                    ),
                },
                Err(error) => json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({ "error": format!("bad request body: {error}") }),
                ),
            }
        }
        (Method::POST, "/v1/maintenance") => {
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<MaintenanceRequest>(&body) {
                Ok(wanted) => {
                    agent.set_maintenance(wanted.maintenance);
                    match agent.persist().await {
                        Ok(()) => json(StatusCode::OK, &agent.status().await),
                        Err(error) => json(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            &serde_json::json!({ "error": error.to_string() }),
                        ),
                    }
                }
                Err(error) => json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({ "error": format!("bad request body: {error}") }),
                ),
            }
        }
        (Method::POST, "/v1/pause") => {
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<PauseRequest>(&body) {
                Ok(wanted) => match agent
                    .pause(std::time::Duration::from_millis(wanted.max_ms))
                    .await
                {
                    Ok(paused) => json(StatusCode::OK, &paused),
                    Err(error) => json(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &serde_json::json!({ "error": error.to_string() }),
                    ),
                },
                Err(error) => json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({ "error": format!("bad request body: {error}") }),
                ),
            }
        }
        (Method::POST, "/v1/hold") => {
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<HoldRequest>(&body) {
                Ok(wanted) => match agent.hold(&wanted.release, wanted.test_from).await {
                    Ok(()) => json(StatusCode::OK, &agent.status().await),
                    Err(error) => json(
                        StatusCode::CONFLICT,
                        &serde_json::json!({ "error": error.to_string() }),
                    ),
                },
                Err(error) => json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({ "error": format!("bad request body: {error}") }),
                ),
            }
        }
        (Method::POST, "/v1/canary") => {
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<CanaryRequest>(&body) {
                Ok(wanted) => match agent.canary(wanted.percent).await {
                    Ok(candidate) => json(StatusCode::OK, &candidate),
                    Err(error) => json(
                        StatusCode::CONFLICT,
                        &serde_json::json!({ "error": error.to_string() }),
                    ),
                },
                Err(error) => json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({ "error": format!("bad request body: {error}") }),
                ),
            }
        }
        (Method::POST, "/v1/abort") => match agent.abort().await {
            Ok(release) => json(StatusCode::OK, &serde_json::json!({ "aborted": release })),
            Err(error) => json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({ "error": error.to_string() }),
            ),
        },
        (Method::POST, "/v1/resume") => match agent.resume().await {
            Ok(()) => json(StatusCode::OK, &serde_json::json!({ "resumed": true })),
            Err(error) => json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({ "error": error.to_string() }),
            ),
        },
        (Method::POST, "/v1/handover") => {
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<HandoverRequest>(&body) {
                Ok(wanted) => match agent.hand_over(&wanted.socket) {
                    Ok(()) => json(StatusCode::OK, &serde_json::json!({ "handed_over": true })),
                    Err(error) => json(
                        StatusCode::CONFLICT,
                        &serde_json::json!({ "error": error.to_string() }),
                    ),
                },
                Err(error) => json(
                    StatusCode::BAD_REQUEST,
                    &serde_json::json!({ "error": format!("bad request body: {error}") }),
                ),
            }
        }
        _ => json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": "no such admin endpoint" }),
        ),
    };
    Ok(response)
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
