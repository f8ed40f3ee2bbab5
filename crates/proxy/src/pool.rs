//! Keep-alive connections to one backend, reused request after request.
//!
//! A connection is checked out for one request and returned when that
//! request's response body has been read to the end; one dropped mid-body
//! (client gone) or upgraded is never reused.

use crate::body::ProxyBody;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Idle connections kept per backend; more are closed when returned.
const MAX_IDLE: usize = 256;

/// Why a backend request could not be sent.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made (nothing listens, or too slow).
    Connect(String),
    /// The connection failed during the exchange.
    Exchange(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(message) => write!(f, "connect: {message}"),
            SendError::Exchange(error) => {
                write!(f, "exchange: {error}")?;
                let mut source = std::error::Error::source(error);
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
        }
    }
}

/// The idle connections of one backend.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<SendRequest<ProxyBody>>>,
}

/// A connection in use; give it back with [`Pool::put`] once its response body ended.
pub(crate) type Checked = SendRequest<ProxyBody>;

impl Pool {
    /// An idle connection ready for a request, or a new one.
    pub(crate) async fn checkout(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<Checked, SendError> {
        loop {
            let candidate = self.idle.lock().expect("never poisoned").pop();
            let Some(mut sender) = candidate else { break };
            // A returned connection becomes ready as soon as its dispatcher has seen the body end.
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        connect(addr, connect_timeout).await
    }

    /// Returns a connection whose last response was read to the end.
    pub(crate) fn put(&self, sender: Checked) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().expect("never poisoned");
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

/// A new connection, bypassing idle ones.
pub(crate) async fn connect_fresh(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<Checked, SendError> {
    connect(addr, timeout).await
}

async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Checked, SendError> {
    let stream = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(SendError::Connect(error.to_string())),
        Err(_) => {
            return Err(SendError::Connect(format!(
                "no connection within {}s",
                timeout.as_secs_f32()
            )))
        }
    };
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(SendError::Exchange)?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "backend connection ended with an error");
        }
    });
    Ok(sender)
}

/// Hands a connection back to its pool when dropped, if the body ended cleanly.
#[derive(Debug)]
pub(crate) struct Return {
    pub(crate) pool: Arc<crate::Backend>,
    pub(crate) sender: Option<Checked>,
    pub(crate) finished: bool,
}

impl Drop for Return {
    fn drop(&mut self) {
        if let (true, Some(sender)) = (self.finished, self.sender.take()) {
            self.pool.pool().put(sender);
        }
    }
}
