//! Keep-alive connections to one backend, reused request after request.
//!
//! A connection is checked out for one request and put back by its response
//! body the moment that body has ended; one dropped mid-body (client gone),
//! upgraded, or closed by the backend is never reused.
//!
//! An idle connection is kept for the backend connection's idle timeout
//! (`[proxy] idle_timeout`, nginx's upstream `keepalive_timeout`), then
//! closed, and one the backend closed is let go within [`SWEEP`]: after a
//! burst, the pool gives back its sockets and the app's workers instead of
//! holding up to [`MAX_IDLE`] of them for good.

use crate::idle::Idle;
use crate::upstream::{Connection, UpstreamError};
use crate::Backend;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Idle connections kept per backend; more are closed when returned.
const MAX_IDLE: usize = 256;

/// How often the sweeper looks for connections the backend closed (the
/// ones past their idle timeout it closes when that comes).
const SWEEP: Duration = Duration::from_secs(5);

/// The idle connections of one backend.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Parking>,
}

#[derive(Debug, Default)]
struct Parking {
    /// Oldest first: connections are put back at the end and taken from it.
    parked: Vec<Parked>,
    /// A sweeper task is watching `parked`.
    sweeping: bool,
}

#[derive(Debug)]
struct Parked {
    connection: Connection,
    /// When it is closed if no request takes it first.
    until: Instant,
}

impl Pool {
    /// The most recently used idle connection that is still open, or a new one.
    pub(crate) async fn checkout(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<Connection, UpstreamError> {
        loop {
            let candidate = self.idle.lock().expect("never poisoned").parked.pop();
            let Some(Parked {
                mut connection,
                until,
            }) = candidate
            else {
                break;
            };
            if Instant::now() < until && still_open(connection.stream.get_ref()) {
                connection.reused = true;
                return Ok(connection);
            }
        }
        connect(addr, connect_timeout).await
    }

    /// Takes back `backend`'s connection whose last response was read to the
    /// end, for its idle timeout; idle, it holds no buffer (its next read
    /// takes a spare one).
    pub(crate) fn put(backend: &Arc<Backend>, mut connection: Connection) {
        crate::buffers::give_back(&mut connection.buffer);
        let now = Instant::now();
        // A timeout too long to add (the site's config caps it at a year;
        // a library caller may not) keeps the connection a year.
        let until = now
            .checked_add(connection.stream.timeout())
            .unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        let mut idle = backend.pool().idle.lock().expect("never poisoned");
        if idle.parked.len() >= MAX_IDLE {
            return;
        }
        idle.parked.push(Parked { connection, until });
        if !idle.sweeping {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                idle.sweeping = true;
                runtime.spawn(sweep(Arc::downgrade(backend)));
            }
        }
    }

    /// Closes the connections past their idle timeout or closed by the
    /// backend; returns when the next of those is due, or `None` (and
    /// stops being swept) when none is left.
    fn sweep(&self, now: Instant) -> Option<Instant> {
        let mut idle = self.idle.lock().expect("never poisoned");
        let closed: Vec<Parked> = idle
            .parked
            .extract_if(.., |parked| {
                now >= parked.until || !still_open(parked.connection.stream.get_ref())
            })
            .collect();
        let next = idle.parked.iter().map(|parked| parked.until).min();
        if next.is_none() {
            idle.sweeping = false;
        }
        drop(idle);
        // Closed outside the lock: requests may be checking out meanwhile.
        drop(closed);
        next.map(|until| until.min(now + SWEEP))
    }
}

/// Watches one backend's idle connections until none is left. It needs no
/// shutdown signal: it holds only a weak reference, owns nothing, and ends
/// with the pool's last idle connection or the backend itself; `put`
/// starts a new one when connections come back.
async fn sweep(backend: Weak<Backend>) {
    loop {
        let next = match backend.upgrade() {
            Some(backend) => backend.pool().sweep(Instant::now()),
            None => None,
        };
        let Some(next) = next else {
            return;
        };
        tokio::time::sleep_until(next).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parked(backend: &Backend) -> usize {
        backend.pool().idle.lock().unwrap().parked.len()
    }

    #[tokio::test]
    async fn a_connection_the_backend_closed_is_swept_before_its_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = Arc::new(Backend::new("r1", addr));
        let mut connection = connect(addr, Duration::from_secs(5)).await.unwrap();
        connection.stream.set_timeout(Duration::from_secs(3600));
        let (accepted, _) = listener.accept().await.unwrap();
        Pool::put(&backend, connection);
        assert_eq!(parked(&backend), 1);
        assert!(
            backend.pool().sweep(Instant::now()).is_some(),
            "kept while open"
        );
        assert_eq!(parked(&backend), 1);
        drop(accepted);
        // The reactor sees the close when the runtime next polls it.
        let swept = async {
            while backend.pool().sweep(Instant::now()).is_some() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), swept)
            .await
            .expect("a connection the backend closed stayed parked");
        assert_eq!(parked(&backend), 0);
        assert!(
            !backend.pool().idle.lock().unwrap().sweeping,
            "the sweeper stops when none is left"
        );
    }

    #[tokio::test]
    async fn a_connection_past_its_idle_timeout_is_not_handed_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = Arc::new(Backend::new("r1", addr));
        let mut connection = connect(addr, Duration::from_secs(5)).await.unwrap();
        let _accepted = listener.accept().await.unwrap();
        connection.stream.set_timeout(Duration::ZERO);
        Pool::put(&backend, connection);
        let fresh = backend
            .pool()
            .checkout(addr, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!fresh.reused, "an expired connection was reused");
    }
}
