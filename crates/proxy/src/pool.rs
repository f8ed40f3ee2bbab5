//! Keep-alive connections to one backend, reused request after request.
//!
//! A connection is checked out for one request and put back by its response
//! body the moment that body has ended; one dropped mid-body (client gone),
//! upgraded, or closed by the backend is never reused.

use crate::idle::Idle;
use crate::upstream::{Connection, UpstreamError};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::net::TcpStream;

/// Idle connections kept per backend; more are closed when returned.
const MAX_IDLE: usize = 256;

/// The idle connections of one backend.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    /// The most recently used idle connection that is still open, or a new one.
    pub(crate) async fn checkout(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<Connection, UpstreamError> {
        loop {
            let candidate = self.idle.lock().expect("never poisoned").pop();
            let Some(mut connection) = candidate else {
                break;
            };
            if still_open(connection.stream.get_ref()) {
                connection.reused = true;
                return Ok(connection);
            }
        }
        connect(addr, connect_timeout).await
    }

    /// Takes back a connection whose last response was read to the end;
    /// idle, it holds no buffer (its next read takes a spare one).
    pub(crate) fn put(&self, mut connection: Connection) {
        crate::buffers::give_back(&mut connection.buffer);
        let mut idle = self.idle.lock().expect("never poisoned");
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }
}

/// Whether an idle connection can take a request: an idle backend
/// connection that turned readable was closed by the backend (or sent
/// something unasked), either way unusable. Costs no syscall unless the
/// reactor saw it turn readable.
fn still_open(stream: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    match stream.poll_read_ready(&mut cx) {
        Poll::Pending => true,
        Poll::Ready(Err(_)) => false,
        Poll::Ready(Ok(())) => matches!(
            stream.try_read(&mut [0u8; 1]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
        ),
    }
}

/// A new connection.
pub(crate) async fn connect(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<Connection, UpstreamError> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(UpstreamError::Connect(error.to_string())),
        Err(_) => {
            return Err(UpstreamError::Connect(format!(
                "no connection within {}s",
                timeout.as_secs_f32()
            )))
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(Connection {
        // The exchange sets the timeout for each phase before any I/O.
        stream: Idle::new(stream, timeout),
        buffer: BytesMut::new(),
        reused: false,
    })
}
