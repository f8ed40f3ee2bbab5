//! The admin API: JSON over HTTP/1.1 on a Unix socket (mode 0600).
//!
//! | method | path | does |
//! |---|---|---|
//! | GET | `/v1/status` | [`AgentStatus`](crate::AgentStatus) |
//! | POST | `/v1/activate` | `{"release": ID}` → [`Activated`](crate::Activated), or 409 `{"error"}` |
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
use tokio::net::UnixListener;

#[derive(Deserialize)]
struct ActivateRequest {
    release: String,
}

#[derive(Deserialize)]
struct HandoverRequest {
    socket: std::path::PathBuf,
}

/// Serves the admin API on `listener` until `shutdown` resolves.
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
        let agent = agent.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(agent.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    agent: Arc<Agent>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
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
