//! Keep-alive connections to one backend, reused request after request.
//!
//! A connection is checked out for one request and put back by its response
//! body the moment that body has ended; one dropped mid-body (client gone),
//! upgraded, or closed by the backend is never reused.
//!
//! An idle connection is kept for the backend connection's idle timeout
//! (`[proxy] idle_timeout`, nginx's upstream `keepalive_timeout`), then
//! closed, and one the backend closed is let go at the next tick: after a
//! burst, the pool gives back its sockets and the app's workers instead of
//! holding up to [`MAX_IDLE`] of them for good.
//!
//! Timed as [`crate::idle`] times client connections, so that a request
//! reads no clock and files no timer: a connection is stamped with the
//! pool's tick count when it is put back, and a sweeper task advances the
//! count every quarter of the timeout (at most every [`SWEEP`]) and closes
//! what has sat for a whole timeout. It runs only while connections are
//! parked: it is started by the `put` that finds none watched, and ends
//! with the last one.

use crate::idle::Idle;
use crate::upstream::{Connection, UpstreamError};
use crate::Backend;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::net::TcpStream;

/// Idle connections kept per backend; more are closed when returned.
const MAX_IDLE: usize = 256;

/// The longest time between two ticks: how long a connection the backend
/// closed may stay parked, when the idle timeout is long.
const SWEEP: Duration = Duration::from_secs(5);

/// The shortest time between two ticks.
const MIN_TICK: Duration = Duration::from_millis(100);

/// The idle connections of one backend.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<Parking>,
}

#[derive(Debug, Default)]
struct Parking {
    /// Oldest first: connections are put back at the end and taken from it.
    parked: Vec<Parked>,
    /// Ticks so far; advanced only while a sweeper runs.
    ticks: u64,
    /// The idle timeout of the last connection put back (the proxy's one
    /// setting, so the same for all).
    timeout: Duration,
    /// A sweeper task is watching `parked`.
    sweeping: bool,
}

#[derive(Debug)]
struct Parked {
    connection: Connection,
    /// `Parking::ticks` when it was put back.
    since: u64,
}

impl Pool {
    /// The most recently used idle connection that is still open, or a new
    /// one. One past its idle timeout but not yet swept (within a tick) is
    /// still taken: the backend closing it meanwhile is caught by
    /// [`still_open`] or by the exchange's retry.
    pub(crate) async fn checkout(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<Connection, UpstreamError> {
        loop {
            let candidate = self.idle.lock().expect("never poisoned").parked.pop();
            let Some(Parked { mut connection, .. }) = candidate else {
                break;
            };
            if still_open(connection.stream.get_ref()) {
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
        crate::buffers::give_back_lent(&mut connection.buffer);
        let mut idle = backend.pool().idle.lock().expect("never poisoned");
        if idle.parked.len() >= MAX_IDLE {
            return;
        }
        idle.timeout = connection.stream.timeout();
        let since = idle.ticks;
        idle.parked.push(Parked { connection, since });
        let runtime = match idle.sweeping {
            true => None,
            false => tokio::runtime::Handle::try_current().ok(),
        };
        idle.sweeping |= runtime.is_some();
        drop(idle);
        // Spawned outside the lock: other requests may be checking out.
        if let Some(runtime) = runtime {
            runtime.spawn(sweep(Arc::downgrade(backend)));
        }
    }

    /// How long a tick lasts, and how many make a whole idle timeout.
    fn tick(&self) -> (Duration, u64) {
        let timeout = self.idle.lock().expect("never poisoned").timeout;
        ticking(timeout)
    }

    /// One tick: closes the connections parked for a whole idle timeout or
    /// closed by the backend. Returns whether any is left to watch; when
    /// none is, the pool is no longer swept.
    fn advance(&self, whole: u64) -> bool {
        let mut idle = self.idle.lock().expect("never poisoned");
        idle.ticks += 1;
        let now = idle.ticks;
        // More than `whole` ticks: the first one came within a tick of the
        // put, so a connection is closed between one and one and a quarter
        // timeouts after it went idle (as client connections are).
        let closed: Vec<Parked> = idle
            .parked
            .extract_if(.., |parked| {
                now - parked.since > whole || !still_open(parked.connection.stream.get_ref())
            })
            .collect();
        let left = !idle.parked.is_empty();
        idle.sweeping = left;
        drop(idle);
        // Closed outside the lock: requests may be checking out meanwhile.
        drop(closed);
        left
    }
}

/// A tick for `timeout`: a quarter of it, within [`MIN_TICK`]..=[`SWEEP`];
/// and the ticks in a whole timeout.
fn ticking(timeout: Duration) -> (Duration, u64) {
    let tick = (timeout / 4).clamp(MIN_TICK, SWEEP);
    let whole = timeout.as_nanos().div_ceil(tick.as_nanos()).max(1);
    (tick, u64::try_from(whole).unwrap_or(u64::MAX))
}

/// Watches one backend's idle connections until none is left. It needs no
/// shutdown signal: it holds only a weak reference, owns nothing, and ends
/// with the pool's last idle connection or the backend itself; `put`
/// starts a new one when connections come back. It waits a tick before
/// its first look, so that a pool emptied and refilled by every request
/// under load starts at most one sweeper a tick.
async fn sweep(backend: Weak<Backend>) {
    loop {
        let Some((tick, whole)) = backend.upgrade().map(|backend| backend.pool().tick()) else {
            return;
        };
        tokio::time::sleep(tick).await;
        let left = match backend.upgrade() {
            Some(backend) => backend.pool().advance(whole),
            None => false,
        };
        if !left {
            return;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parked(backend: &Backend) -> usize {
        backend.pool().idle.lock().unwrap().parked.len()
    }

    async fn parked_connection(idle_timeout: Duration) -> (Arc<Backend>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = Arc::new(Backend::new("r1", addr));
        let mut connection = connect(addr, Duration::from_secs(5)).await.unwrap();
        connection.stream.set_timeout(idle_timeout);
        let (accepted, _) = listener.accept().await.unwrap();
        Pool::put(&backend, connection);
        (backend, accepted)
    }

    #[tokio::test]
    async fn a_connection_the_backend_closed_is_swept_at_the_next_tick() {
        let (backend, accepted) = parked_connection(Duration::from_secs(3600)).await;
        let (_, whole) = backend.pool().tick();
        assert!(backend.pool().advance(whole), "kept while open");
        assert_eq!(parked(&backend), 1);
        drop(accepted);
        // The reactor sees the close when the runtime next polls it.
        let swept = async {
            while backend.pool().advance(whole) {
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
    async fn a_connection_is_closed_after_a_whole_idle_timeout_of_ticks() {
        let (backend, _accepted) = parked_connection(Duration::from_secs(60)).await;
        let (tick, whole) = backend.pool().tick();
        assert_eq!((tick, whole), (SWEEP, 12));
        for _ in 0..whole {
            assert!(backend.pool().advance(whole));
        }
        assert_eq!(parked(&backend), 1, "closed before a whole timeout");
        assert!(!backend.pool().advance(whole));
        assert_eq!(parked(&backend), 0);
    }

    /// Broke: a body read to the last byte of its buffer's room left a view
    /// with no room in the connection, which kept the body's allocation
    /// (64 KiB for a 64 KiB response) while the connection was parked.
    #[tokio::test]
    async fn a_parked_connection_kept_the_allocation_its_last_body_was_read_into() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = Arc::new(Backend::new("r1", addr));
        let mut connection = connect(addr, Duration::from_secs(5)).await.unwrap();
        let _accepted = listener.accept().await.unwrap();
        crate::buffers::lend(&mut connection.buffer, 64 * 1024);
        let room = connection.buffer.capacity();
        connection.buffer.resize(room, b'x');
        let body = connection.buffer.split().freeze();
        assert_eq!(connection.buffer.capacity(), 0);
        Pool::put(&backend, connection);
        assert_eq!(parked(&backend), 1);
        assert!(
            body.is_unique(),
            "the parked connection still holds the body's allocation"
        );
    }

    #[test]
    fn ticks_are_a_quarter_of_the_timeout_within_bounds() {
        assert_eq!(
            ticking(Duration::from_secs(1)),
            (Duration::from_millis(250), 4)
        );
        assert_eq!(ticking(Duration::from_millis(10)), (MIN_TICK, 1));
        assert_eq!(ticking(Duration::from_secs(61)), (SWEEP, 13));
        assert_eq!(ticking(Duration::MAX).0, SWEEP);
    }
}
