//! The public accept loop, with graceful shutdown.

use crate::Proxy;
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
        let proxy = proxy.clone();
        let service = service_fn(move |request| {
            let proxy = proxy.clone();
            async move { Ok::<_, std::convert::Infallible>(proxy.handle(request, client).await) }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        let guard = open.opened();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
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
