//! The public accept loop, with graceful shutdown.

use crate::h1::{self, Rewind};
use crate::{Peer, Proxy};
use bytes::BytesMut;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

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
/// knowledge, or ALPN over TLS) by hyper.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let stop = Arc::new(h1::Stop::default());
    let open = Arc::new(OpenConnections::default());
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
                    // EMFILE and friends: back off briefly rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            proxy: proxy.clone(),
            http2: http2.clone(),
            graceful: graceful.watcher(),
            stop: stop.clone(),
            _open: open.opened(),
        };
        tokio::spawn(async move {
            if let Err(error) = connection.serve(stream, client).await {
                tracing::debug!(error = %error, "client connection ended with an error");
            }
        });
    }
    drop(listener);
    proxy.start_closing();
    let _ = tokio::time::timeout(LINGER, open.all_closed()).await;
    stop.trigger();
    let finished = async {
        graceful.shutdown().await;
        open.all_closed().await;
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, finished)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

/// What one client connection's task needs.
struct Connection {
    proxy: Arc<Proxy>,
    http2: Arc<http2::Builder<TokioExecutor>>,
    graceful: Watcher,
    stop: Arc<h1::Stop>,
    _open: OpenGuard,
}

impl Connection {
    async fn serve(self, stream: TcpStream, client: SocketAddr) -> Result<(), ConnectionError> {
        let Some(tls) = self.proxy.tls().cloned() else {
            let peer = Peer::new(client, "http");
            let buffer = BytesMut::new();
            let h1 = h1::serve(stream, buffer, self.proxy.clone(), peer, self.stop.clone());
            return match h1.await? {
                Some((stream, preface)) => {
                    self.serve_h2(Rewind::new(preface, stream), client, "http")
                        .await
                }
                None => Ok(()),
            };
        };
        // The TLS handshake runs here, not in the accept loop, so a slow client cannot stall accepts.
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.0.accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => return Err("TLS handshake timed out".into()),
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
            self.stop.clone(),
        )
        .await?;
        Ok(())
    }

    async fn serve_h2<I>(
        self,
        io: I,
        client: SocketAddr,
        scheme: &'static str,
    ) -> Result<(), ConnectionError>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let session = Arc::new((self.proxy, Peer::new(client, scheme)));
        let service = service_fn(move |request| {
            let session = session.clone();
            async move {
                let (proxy, peer) = &*session;
                Ok::<_, std::convert::Infallible>(proxy.handle(request, peer).await)
            }
        });
        let connection = self.http2.serve_connection(TokioIo::new(io), service);
        self.graceful.watch(connection).await?;
        Ok(())
    }
}

/// Counts open client connections; wakes waiters when the last one ends.
#[derive(Debug, Default)]
struct OpenConnections {
    count: std::sync::atomic::AtomicUsize,
    none_left: tokio::sync::Notify,
}

/// Held by a connection's task for as long as the connection is open.
struct OpenGuard(Arc<OpenConnections>);

impl OpenConnections {
    fn opened(self: &Arc<Self>) -> OpenGuard {
        self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        OpenGuard(self.clone())
    }

    async fn all_closed(&self) {
        loop {
            let notified = self.none_left.notified();
            if self.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if self
            .0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.0.none_left.notify_waiters();
        }
    }
}
