//! The public accept loop, with graceful shutdown.

use crate::connections::{Refused, Registry, Ticket};
use crate::h1::{self, Rewind};
use crate::throttle::{warn_throttled, Throttle};
use crate::{Peer, Proxy};
use bytes::BytesMut;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// How long open connections get to finish after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long keep-alive clients get to make one more request (answered with
/// `Connection: close`) before idle connections are closed outright.
const LINGER: Duration = Duration::from_secs(5);

/// Serves `listener` through `proxy` until `shutdown` resolves; then stops
/// accepting, answers each connection's next request with `Connection:
/// close`, and after [`LINGER`] closes what is left gracefully (idle
/// HTTP/1 connections at once, GOAWAY for HTTP/2), waiting for requests
/// in flight. HTTP/1 is served by [`crate::h1`], HTTP/2 (h2c prior
/// knowledge, or ALPN over TLS) by hyper. Connections are capped as
/// [`crate::connections`] says.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    let registry = proxy.connections().clone();
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2.max_header_list_size(64 * 1024);
    // hyper's HTTP/2 server has no idle timeout; a PING after each idle
    // spell, unanswered, finds a client that vanished without a FIN.
    let idle = proxy.idle_timeout();
    http2
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(idle)
        .keep_alive_timeout(idle.min(Duration::from_secs(20)));
    let http2 = Arc::new(http2);
    tokio::pin!(shutdown);
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    out_of_descriptors(&registry, &error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let accepted = Instant::now();
        let ticket = match registry.admit(client.ip()) {
            Ok(ticket) => ticket,
            Err(refused) => {
                turn_away(stream, client, refused, proxy.tls().is_some(), &registry);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            proxy: proxy.clone(),
            http2: http2.clone(),
            ticket,
            accepted,
        };
        spawn(connection, stream, client);
    }
    drop(listener);
    proxy.start_closing();
    let _ = tokio::time::timeout(LINGER, registry.fewer_than(1)).await;
    registry.stop();
    if tokio::time::timeout(SHUTDOWN_GRACE, registry.fewer_than(1))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}

/// `accept` failed. Out of file descriptors (EMFILE, ENFILE): close the
/// connection that has waited longest and retry as soon as it is gone;
/// back off briefly only when there is nothing to close, rather than spin.
async fn out_of_descriptors(registry: &Registry, error: &std::io::Error) {
    let raw = error.raw_os_error();
    let exhausted = raw == Some(nix::libc::EMFILE) || raw == Some(nix::libc::ENFILE);
    let running = registry.running();
    if exhausted && registry.evict_oldest() {
        warn_throttled!(
            NO_DESCRIPTORS,
            %error,
            open = running,
            "out of file descriptors; closed the oldest idle connection (lower `[proxy] max_connections` or raise the open-file limit)"
        );
        // Its descriptor is free once its task has ended.
        let _ = tokio::time::timeout(EVICTION_WAIT, registry.fewer_than(running)).await;
        return;
    }
    warn_throttled!(ACCEPT_FAILED, %error, open = running, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Starts a connection's task.
fn spawn(connection: Connection, stream: TcpStream, client: SocketAddr) {
    tokio::spawn(task(connection, stream, client));
}

/// A connection's whole task, as spawned: what tokio allocates for it
/// (pinned by the tests in `sizes`). No block around `serve`: a block
/// that awaits it keeps `serve`'s arguments once more beside it.
fn task(
    connection: Connection,
    stream: TcpStream,
    client: SocketAddr,
) -> impl Future<Output = ()> + Send {
    connection.serve(stream, client)
}

/// How long the accept loop waits for an evicted connection to close.
const EVICTION_WAIT: Duration = Duration::from_millis(100);

/// Refused connections, logged at most once a second per reason.
static ACCEPT_FAILED: Throttle = Throttle::new("accept failed");
static NO_DESCRIPTORS: Throttle = Throttle::new("out of file descriptors");
static BUSY: Throttle = Throttle::new("turned away: every connection busy");
static PER_CLIENT: Throttle = Throttle::new("turned away: per-client limit");

/// Answers a connection that was not admitted: a short 503 over plain
/// HTTP (a TLS client is just closed: there is no handshake budget to
/// spend on it), in a task of its own so accepting goes on.
fn turn_away(
    stream: TcpStream,
    client: SocketAddr,
    refused: Refused,
    tls: bool,
    registry: &Registry,
) {
    match refused {
        Refused::Busy => warn_throttled!(
            BUSY,
            open = registry.counted(),
            "connection limit reached and no connection is idle; answered 503 (see `[proxy] max_connections`)"
        ),
        Refused::PerClient => warn_throttled!(
            PER_CLIENT,
            %client,
            "connection limit for one client reached; answered 503 (see `[proxy] max_connections_per_client`)"
        ),
    }
    if tls {
        return;
    }
    tokio::spawn(async move {
        let mut stream = stream;
        let answer = async {
            stream.write_all(BUSY_ANSWER).await?;
            stream.shutdown().await?;
            // Read what the client sent, so it reads the answer instead of a reset.
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        };
        let _ = tokio::time::timeout(TURN_AWAY_TIME, answer).await;
    });
}

/// The whole exchange with a turned-away client may take this long.
const TURN_AWAY_TIME: Duration = Duration::from_millis(500);

const BUSY_ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\n\
retry-after: 5\r\n\
cache-control: no-store\r\n\
connection: close\r\n\
content-length: 50\r\n\
\r\n\
The server is busy. Please try again in a moment.\n";

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

/// What one client connection's task needs.
struct Connection {
    proxy: Arc<Proxy>,
    http2: Arc<http2::Builder<TokioExecutor>>,
    /// Its place among the open connections; freed when the task ends.
    ticket: Ticket,
    accepted: Instant,
}

impl Connection {
    /// A plain function returning a block, not an `async fn`: an `async fn`
    /// keeps its arguments twice in the task, as arguments and as locals.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would keep its arguments twice"
    )]
    fn serve(self, stream: TcpStream, client: SocketAddr) -> impl Future<Output = ()> + Send {
        async move {
            let ended: Result<(), ConnectionError> = match self.proxy.tls().cloned() {
                None => {
                    let peer = Peer::new(client, "http");
                    let buffer = BytesMut::new();
                    let h1 = h1::serve(
                        stream,
                        buffer,
                        self.proxy.clone(),
                        peer,
                        &self.ticket,
                        self.accepted,
                    );
                    // Boxed: an idle HTTP/1 connection should not carry
                    // HTTP/2's state. Made in a statement of its own, so
                    // the HTTP/1 result is gone before the next await.
                    let h2 = match h1.await {
                        Ok(Some((stream, preface))) => {
                            let io = Rewind::new(preface, stream);
                            Ok(Some(Box::pin(self.serve_h2(io, client, "http"))))
                        }
                        Ok(None) => Ok(None),
                        Err(error) => Err(error),
                    };
                    match h2 {
                        Ok(Some(h2)) => h2.await,
                        Ok(None) => Ok(()),
                        Err(error) => Err(error.into()),
                    }
                }
                // Boxed: a task is as big as its biggest branch, and a plain
                // connection should not carry TLS's state.
                Some(tls) => Box::pin(self.serve_tls(tls, stream, client)).await,
            };
            if let Err(error) = ended {
                tracing::debug!(error = %error, "client connection ended with an error");
            }
        }
    }

    /// The TLS handshake, then HTTP/2 or HTTP/1 over it.
    async fn serve_tls(
        self,
        tls: crate::Tls,
        stream: TcpStream,
        client: SocketAddr,
    ) -> Result<(), ConnectionError> {
        // The TLS handshake runs here, not in the accept loop, so a slow
        // client cannot stall accepts; until it ends the connection waits,
        // so it may be evicted to make room.
        let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.0.accept(stream));
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => return Err(error.into()),
                Err(_) => return Err("TLS handshake timed out".into()),
            },
            () = self.ticket.told_to_go() => return Ok(()),
        };
        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
            return self
                .serve_h2(Rewind::new(BytesMut::new(), stream), client, "https")
                .await;
        }
        let peer = Peer::new(client, "https");
        h1::serve(
            stream,
            BytesMut::new(),
            self.proxy.clone(),
            peer,
            &self.ticket,
            self.accepted,
        )
        .await?;
        Ok(())
    }

    /// Serves HTTP/2 until the client goes; told to go (evicted while no
    /// stream is open, or the server stopping), it sends GOAWAY and lets
    /// open streams finish.
    async fn serve_h2<I>(
        self,
        io: I,
        client: SocketAddr,
        scheme: &'static str,
    ) -> Result<(), ConnectionError>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            proxy,
            http2,
            ticket,
            ..
        } = self;
        let ticket = Arc::new(ticket);
        let streams = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let session = Arc::new((proxy, Peer::new(client, scheme), ticket.clone(), streams));
        let service = service_fn(move |request| {
            let session = session.clone();
            async move {
                let (proxy, peer, ticket, streams) = &*session;
                // Waiting only while no stream is being answered.
                if streams.fetch_add(1, Ordering::Relaxed) == 0 {
                    ticket.busy();
                }
                let response = proxy.handle(request, peer).await;
                if streams.fetch_sub(1, Ordering::Relaxed) == 1 {
                    ticket.waiting();
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let connection = http2.serve_connection(TokioIo::new(io), service);
        tokio::pin!(connection);
        let told = ticket.told_to_go();
        tokio::pin!(told);
        let mut going = false;
        std::future::poll_fn(|cx| {
            if !going && told.as_mut().poll(cx).is_ready() {
                going = true;
                connection.as_mut().graceful_shutdown();
            }
            connection.as_mut().poll(cx)
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_busy_answer_is_framed_by_its_length() {
        let text = std::str::from_utf8(super::BUSY_ANSWER).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{text}"
        );
    }
}

#[cfg(test)]
mod sizes {
    use super::*;
    use crate::{Router, Settings};

    /// What one plain client connection's task takes, whatever it is doing:
    /// tokio allocates the whole future when the task is spawned. (A
    /// request's own work is boxed while it runs.)
    const TASK_BUDGET: usize = 2 * 1024;

    /// The size of a plain client connection's task, as spawned.
    async fn task_size() -> usize {
        let proxy = Arc::new(Proxy::new(Arc::new(Router::default()), Settings::default()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stream = TcpStream::connect(address).await.unwrap();
        let connection = Connection {
            proxy: proxy.clone(),
            http2: Arc::new(http2::Builder::new(TokioExecutor::new())),
            ticket: proxy.connections().admit(address.ip()).unwrap(),
            accepted: Instant::now(),
        };
        let task = task(connection, stream, address);
        std::mem::size_of_val(&task)
    }

    // Each connection's task was 13.5 KB, idle or not: the lingering
    // drain's 8 KiB stack array, and the TLS and HTTP/2 branches, sat in it.
    #[tokio::test]
    async fn a_plain_connections_task_carries_no_tls_http2_or_drain_state() {
        let size = task_size().await;
        assert!(size <= 5 * 1024, "a connection's task takes {size} bytes");
    }

    // Broke: an idle keep-alive connection's task held room for forwarding
    // a request and writing its response (3.8 KB of 4.6-5.2 KB per idle
    // connection, debug build), all the while it waited for the next one.
    #[tokio::test]
    async fn an_idle_keep_alive_connection_carried_a_requests_forwarding_state() {
        let size = task_size().await;
        assert!(
            size <= TASK_BUDGET,
            "a connection's task takes {size} bytes"
        );
    }

    // Broke: `h1::serve`, an `async fn`, kept its arguments twice, and the
    // parse result of the last head stayed in the task while it waited
    // for the next (1.5 KB in a debug build; 1.1 KB without them).
    #[tokio::test]
    async fn an_idle_connections_task_kept_its_arguments_and_last_parse_twice() {
        let size = task_size().await;
        assert!(size <= 1280, "a connection's task takes {size} bytes");
    }

    // Broke: a request head moved out field by field kept its 264 bytes in
    // the task while the connection waited for the next request, and
    // `Connection::serve`, an `async fn`, kept its arguments twice (1,064
    // bytes in a debug build; 648 without them).
    #[tokio::test]
    async fn an_idle_connections_task_kept_the_last_head_and_the_connection_twice() {
        let size = task_size().await;
        assert!(size <= 768, "a connection's task takes {size} bytes");
    }

    // Broke: the accept loop spawned a block that awaited `serve` to log its
    // error, and that block kept `serve`'s arguments (144 bytes) beside it:
    // the task took 784 bytes in the release build (896 with tokio's task
    // header), where `serve` logging its own error takes 640 (768).
    #[tokio::test]
    async fn a_connections_task_kept_its_arguments_again_around_serve() {
        let size = task_size().await;
        assert!(size <= 700, "a connection's task takes {size} bytes");
    }
}
