//! The CLI's side of the admin socket.

use crate::{Activated, AgentError, AgentStatus};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};

/// A connection target for a running agent.
#[derive(Debug, Clone)]
pub struct AgentClient {
    socket: PathBuf,
}

impl AgentClient {
    /// The agent for the site at `socket`, if one answers there.
    pub fn find(socket: &Path) -> Option<AgentClient> {
        let client = AgentClient {
            socket: socket.to_owned(),
        };
        // A socket file left by a dead agent does not count.
        (socket.exists() && std::os::unix::net::UnixStream::connect(socket).is_ok())
            .then_some(client)
    }

    /// Asks the agent to make `release` live (blocking).
    pub fn activate(&self, release: &str, watch: bool) -> Result<Activated, AgentError> {
        let body = serde_json::json!({ "release": release, "watch": watch }).to_string();
        let (status, bytes) = self.call(http::Method::POST, "/v1/activate", body)?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))
        } else {
            Err(AgentError::Remote(remote_error(&bytes)))
        }
    }

    /// Asks the agent to send its public listener to `socket` (blocking).
    pub fn hand_over(&self, socket: &Path) -> Result<(), AgentError> {
        let body = serde_json::json!({ "socket": socket }).to_string();
        let (status, bytes) = self.call(http::Method::POST, "/v1/handover", body)?;
        if status.is_success() {
            Ok(())
        } else {
            Err(AgentError::Remote(remote_error(&bytes)))
        }
    }

    /// Switches maintenance on (`Some`) or off (`None`) (blocking).
    pub fn set_maintenance(
        &self,
        maintenance: Option<&hoist_proxy::Maintenance>,
    ) -> Result<AgentStatus, AgentError> {
        let body = serde_json::json!({ "maintenance": maintenance }).to_string();
        let (status, bytes) = self.call(http::Method::POST, "/v1/maintenance", body)?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))
        } else {
            Err(AgentError::Remote(remote_error(&bytes)))
        }
    }

    /// Holds new requests for at most `max`; returns once in-flight ones finished (blocking).
    pub fn pause(&self, max: std::time::Duration) -> Result<crate::Paused, AgentError> {
        let body = serde_json::json!({ "max_ms": max.as_millis() as u64 }).to_string();
        let (status, bytes) = self.call(http::Method::POST, "/v1/pause", body)?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))
        } else {
            Err(AgentError::Remote(remote_error(&bytes)))
        }
    }

    /// Releases held requests (blocking).
    pub fn resume(&self) -> Result<(), AgentError> {
        let (status, bytes) = self.call(http::Method::POST, "/v1/resume", String::new())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(AgentError::Remote(remote_error(&bytes)))
        }
    }

    /// Tells the agent `data/current` now names `roll.version` (blocking);
    /// it reloads the app, or puts the data back if the app does not take it.
    pub fn data_rolled(&self, roll: &crate::DataRoll) -> Result<crate::DataReloaded, AgentError> {
        let body = serde_json::to_string(roll).expect("a data roll serializes");
        let bytes = self.post("/v1/data", body)?;
        serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))
    }

    /// Waits until the retired `release` has drained (blocking); true when it did.
    pub fn wait_drained(&self, release: &str) -> Result<bool, AgentError> {
        let bytes = self.post(
            "/v1/drained",
            serde_json::json!({ "release": release }).to_string(),
        )?;
        let reply: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))?;
        Ok(reply["drained"].as_bool().unwrap_or(false))
    }

    /// Stops `release`'s warm processes once drained (blocking); true when
    /// it was warm.
    pub fn retire(&self, release: &str) -> Result<bool, AgentError> {
        let bytes = self.post(
            "/v1/retire",
            serde_json::json!({ "release": release }).to_string(),
        )?;
        let reply: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))?;
        Ok(reply["retired"].as_bool().unwrap_or(false))
    }

    /// Starts `release` beside the live one for test traffic (blocking).
    pub fn hold(&self, release: &str, test_from: &[String]) -> Result<(), AgentError> {
        let body = serde_json::json!({ "release": release, "test_from": test_from }).to_string();
        self.post("/v1/hold", body).map(|_| ())
    }

    /// Sends `percent` of clients to the held candidate (blocking).
    pub fn canary(&self, percent: u8) -> Result<crate::Candidate, AgentError> {
        let bytes = self.post(
            "/v1/canary",
            serde_json::json!({ "percent": percent }).to_string(),
        )?;
        serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))
    }

    /// Starts a fresh process of the live release, swapped in once healthy (blocking).
    pub fn restart(&self) -> Result<String, AgentError> {
        let bytes = self.post("/v1/restart", String::new())?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))?;
        Ok(value["restarted"]
            .as_str()
            .unwrap_or("restarted")
            .to_owned())
    }

    /// Stops the held candidate; returns its release (blocking).
    pub fn abort(&self) -> Result<Option<String>, AgentError> {
        let bytes = self.post("/v1/abort", String::new())?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))?;
        Ok(value["aborted"].as_str().map(str::to_owned))
    }

    /// Stops new requests to a static backend; returns once it is empty
    /// (blocking). The last healthy one is drained only with `force`.
    pub fn drain(&self, backend: &str, force: bool) -> Result<crate::Drained, AgentError> {
        let bytes = self.post(
            "/v1/drain",
            serde_json::json!({ "backend": backend, "force": force }).to_string(),
        )?;
        serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))
    }

    /// Sends requests to a drained static backend again (blocking).
    pub fn undrain(&self, backend: &str) -> Result<(), AgentError> {
        self.post(
            "/v1/undrain",
            serde_json::json!({ "backend": backend }).to_string(),
        )
        .map(|_| ())
    }

    fn post(&self, path: &str, body: String) -> Result<Bytes, AgentError> {
        let (status, bytes) = self.call(http::Method::POST, path, body)?;
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(AgentError::Remote(remote_error(&bytes)))
        }
    }

    /// The agent's status (blocking).
    pub fn status(&self) -> Result<AgentStatus, AgentError> {
        let (_, bytes) = self.call(http::Method::GET, "/v1/status", String::new())?;
        serde_json::from_slice(&bytes).map_err(|error| self.unreachable(error.to_string()))
    }

    fn call(
        &self,
        method: http::Method,
        path: &str,
        body: String,
    ) -> Result<(http::StatusCode, Bytes), AgentError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| self.unreachable(error.to_string()))?;
        runtime.block_on(async {
            let stream = tokio::net::UnixStream::connect(&self.socket)
                .await
                .map_err(|error| self.unreachable(error.to_string()))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|error| self.unreachable(error.to_string()))?;
            tokio::spawn(connection);
            let request = http::Request::builder()
                .method(method)
                .uri(path)
                .header(http::header::HOST, "hoist-agent")
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body)))
                .expect("valid request");
            let response = sender
                .send_request(request)
                .await
                .map_err(|error| self.unreachable(error.to_string()))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|error| self.unreachable(error.to_string()))?
                .to_bytes();
            Ok((status, bytes))
        })
    }

    fn unreachable(&self, message: String) -> AgentError {
        AgentError::Unreachable {
            socket: self.socket.clone(),
            message,
        }
    }
}

fn remote_error(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|value| value["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}
