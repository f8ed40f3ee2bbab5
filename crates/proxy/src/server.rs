//! The public accept loop, with graceful shutdown.

use crate::{Peer, Proxy};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long open connections get to finish after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long keep-alive clients get to make one more request (answered with
/// `Connection: close`) before idle connections are closed outright.
const LINGER: Duration = Duration::from_secs(5);

/// Serves `listener` through `proxy` (HTTP/1.1 keep-alive and h2c) until
/// `shutdown` resolves; then stops accepting, answers each connection's next
/// request with `Connection: close`, and after [`LINGER`] closes what is
/// left gracefully (GOAWAY for HTTP/2), waiting for requests in flight.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(OpenConnections::default());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true).max_buf_size(64 * 1024);
    builder.http2().max_header_list_size(64 * 1024);
    let builder = Arc::new(builder);
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
        let (proxy, builder, watcher, guard) = (
            proxy.clone(),
            builder.clone(),
            graceful.watcher(),
            open.opened(),
        );
        tokio::spawn(async move {
            // The TLS handshake runs here, not in the accept loop, so a slow client cannot stall accepts.
            let result = match proxy.tls().cloned() {
                None => {
                    serve_connection(
                        &builder,
                        watcher,
                        TokioIo::new(stream),
                        proxy,
                        client,
                        "http",
                    )
                    .await
                }
                Some(tls) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.0.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(
                                &builder,
                                watcher,
                                TokioIo::new(stream),
                                proxy,
                                client,
                                "https",
                            )
                            .await
                        }
                        Ok(Err(error)) => Err(error.into()),
                        Err(_) => Err("TLS handshake timed out".into()),
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!(error = %error, "client connection ended with an error");
            }
            drop(guard);
        });
    }
    drop(listener);
    proxy.start_closing();
    let _ = tokio::time::timeout(LINGER, open.all_closed()).await;
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

async fn serve_connection<I>(
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    io: TokioIo<I>,
    proxy: Arc<Proxy>,
    client: std::net::SocketAddr,
    scheme: &'static str,
) -> Result<(), ConnectionError>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let session = Arc::new((proxy, Peer::new(client, scheme)));
    let service = service_fn(move |request| {
        let session = session.clone();
        async move {
            let (proxy, peer) = &*session;
            Ok::<_, std::convert::Infallible>(proxy.handle(request, peer).await)
        }
    });
    let connection = builder.serve_connection_with_upgrades(io, service);
    watcher.watch(connection.into_owned()).await
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
