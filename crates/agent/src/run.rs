//! Running the agent: public proxy, admin socket, shutdown.

use crate::Agent;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

/// Serves the public `listener` through `proxy`, the admin API on
/// `admin` and `/metrics` on `metrics` until `shutdown` resolves; then
/// drains client connections and stops the app processes (and with them
/// `/metrics`, on the agent's shutdown token).
pub async fn run(
    agent: Arc<Agent>,
    proxy: Arc<hoist_proxy::Proxy>,
    public: TcpListener,
    admin: UnixListener,
    tcp_admin: Option<(TcpListener, Arc<str>)>,
    metrics: Option<crate::MetricsListener>,
    shutdown: impl Future<Output = ()>,
) {
    if let Some(metrics) = metrics {
        crate::metrics::start(&agent, proxy.clone(), metrics);
    }
    let (stop, stopping) = watch::channel(false);
    let signal = |mut receiver: watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    let public_task = tokio::spawn(hoist_proxy::serve(public, proxy, signal(stopping.clone())));
    let admin_task = tokio::spawn(crate::admin::serve(
        admin,
        agent.clone(),
        None,
        signal(stopping.clone()),
    ));
    if let Some((listener, token)) = tcp_admin {
        tokio::spawn(crate::admin::serve(
            listener,
            agent.clone(),
            Some(token),
            signal(stopping),
        ));
    }
    let handed_over = tokio::select! {
        () = shutdown => false,
        () = agent.handed_over() => true,
    };
    tracing::info!("shutting down: draining connections");
    let _ = stop.send(true);
    let drained = async {
        let _ = public_task.await;
    };
    if handed_over {
        // The successor owns the pause now: held requests wait for its resume.
        tokio::select! {
            () = drained => {}
            () = crate::handover::follow_successor(&agent) => {}
        }
    } else {
        drained.await;
    }
    let _ = admin_task.await;
    agent.stop_all().await;
}

/// Binds the admin socket, replacing a stale one, readable only by its owner.
pub fn bind_admin(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("an agent already answers on `{}`", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Tells systemd (`Type=notify`) the agent is serving, when it asked.
pub fn notify_ready() {
    let Ok(socket) = std::env::var("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(datagram) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    // MAINPID: after an upgrade the serving agent is a new process, and
    // systemd (with NotifyAccess=all) must follow it rather than the old one.
    let message = format!("READY=1\nMAINPID={}\n", std::process::id());
    let sent = if let Some(abstract_name) = socket.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
            .and_then(|address| datagram.send_to_addr(message.as_bytes(), &address))
    } else {
        datagram.send_to(message.as_bytes(), &socket)
    };
    if let Err(error) = sent {
        tracing::warn!(%error, "sd_notify failed");
    }
}
