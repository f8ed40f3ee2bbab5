use crate::cli::Global;
use anyhow::Context as _;
use hoist_proxy::{Proxy, Router, Settings};
use std::io::Write as _;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist agent --root /srv/shop\n  hoist agent --listen 0.0.0.0:80 --threads 2\n  hoist agent --upgrade      take over from the running agent without dropping a connection\n  kill -USR2 $(pidof hoist)  the same, started by the running agent itself\n\nAs a systemd service use Type=notify; a socket unit's first socket (LISTEN_FDS) becomes the public listener."
)]
pub struct Args {
    /// Public listen address (default: `[proxy] listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Proxy worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Take over from the running agent: start the live release, receive its
    /// listening socket, and let it drain and exit.
    #[arg(long)]
    upgrade: bool,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (root, config) = site_config(global)?;
    let site = hoist_site::Site::create(&root)?;
    // Before any thread: the apps it starts get every signal at its default.
    match hoist_supervisor::catch_ignored() {
        Ok(signals) if !signals.is_empty() => {
            tracing::debug!(?signals, "inherited ignored signals: caught instead, so apps start with them at their default");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "cannot reset ignored signals; apps may start with them ignored")
        }
    }
    raise_open_file_limit();
    // One thread means one event loop, as nginx runs one per worker: no
    // cross-thread wakeups between the client side and the backend side.
    let mut runtime = match args.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(threads) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads.max(1));
            builder
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = runtime
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let json = global.json;
    let announce = move |address: &str, live: &str| {
        // The readiness line; under `--json` a JSON line, like every other stdout.
        // A closed stdout must not stop an agent that is about to serve.
        let line = if json {
            serde_json::json!({ "agent": "listening", "address": address, "serving": live })
                .to_string()
        } else {
            format!("hoist agent: listening on {address}, serving {live}")
        };
        let _ = writeln!(std::io::stdout().lock(), "{line}");
        hoist_agent::notify_ready();
    };
    runtime.block_on(async move {
        tokio::spawn(upgrade_on_signal());
        if args.upgrade {
            upgrade(site, &config, announce).await?;
            tracing::info!(target: crate::LIFECYCLE, "agent stopped");
            return Ok(crate::EXIT_OK);
        }
        let public = match systemd_listener()? {
            Some(listener) => listener,
            None => {
                let listen = args.listen.unwrap_or_else(|| config.proxy.listen.clone());
                tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on `{listen}`"))?
            }
        };
        serve(site, &config, public, shutdown_signal(), announce).await?;
        tracing::info!(target: crate::LIFECYCLE, "agent stopped");
        Ok(crate::EXIT_OK)
    })
}

/// The site root and the settings its agent runs with: the config found
/// (or the live release's) with the site's host settings, `$NAME` expanded.
/// `hoist systemd` reads the listener from the same place the agent will.
pub(crate) fn site_config(
    global: &Global,
) -> anyhow::Result<(std::path::PathBuf, hoist_config::Config)> {
    let found = crate::target::config(global)?;
    let root = crate::target::root(global, found.as_ref())?;
    let config = match crate::site::overlay(&root, found, crate::site::Use::Command)? {
        Some(config) => config,
        None => live_config(&root)?,
    };
    let config = resolve_host_values(&root, config)?;
    Ok((root, config))
}

/// Runs an agent for `site` on `public` until `shutdown`; `ready` is told
/// the address and live release once it serves. Shared with `hoist demo`.
pub async fn serve(
    site: hoist_site::Site,
    config: &hoist_config::Config,
    public: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
    ready: impl FnOnce(&str, &str),
) -> anyhow::Result<()> {
    let address = public.local_addr()?.to_string();
    // First, so a bad token stops the agent before it starts anything.
    let tcp_admin = tcp_admin(config, &site).await?;
    let socket = site.socket_path();
    let admin = hoist_agent::bind_admin(&socket)
        .with_context(|| format!("cannot bind the admin socket `{}`", socket.display()))?;
    let (agent, proxy) = build(&site, config, address)?;
    if let Err(error) = agent.restore().await {
        eprintln!("warning: {error:#}; serving 503 until a deploy succeeds");
    }
    let metrics = metrics_listener(config, false).await?;
    let listeners = Listeners {
        public,
        admin,
        tcp_admin,
        metrics,
    };
    run(site, agent, proxy, listeners, shutdown, ready).await
}

fn build(
    site: &hoist_site::Site,
    config: &hoist_config::Config,
    address: String,
) -> anyhow::Result<(Arc<hoist_agent::Agent>, Arc<Proxy>)> {
    let router = Arc::new(Router::with_max_held(config.proxy.max_held));
    let proxy = Arc::new(Proxy::new(
        router.clone(),
        settings(
            &config.proxy,
            &config.data,
            config
                .process
                .as_ref()
                .map_or("/healthz", |process| process.health_path.as_str()),
            site.root(),
        )?,
    ));
    let agent = hoist_agent::Agent::new(site.clone(), config, router, address)?;
    Ok((agent, proxy))
}

/// Everything the agent listens on.
struct Listeners {
    public: tokio::net::TcpListener,
    admin: tokio::net::UnixListener,
    tcp_admin: Option<(tokio::net::TcpListener, Arc<str>)>,
    metrics: Option<hoist_agent::MetricsListener>,
}

async fn run(
    site: hoist_site::Site,
    agent: Arc<hoist_agent::Agent>,
    proxy: Arc<Proxy>,
    listeners: Listeners,
    shutdown: impl std::future::Future<Output = ()>,
    ready: impl FnOnce(&str, &str),
) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Listeners {
        public,
        admin,
        tcp_admin,
        metrics,
    } = listeners;
    let socket = site.socket_path();
    let ours = std::fs::metadata(&socket)
        .map(|metadata| metadata.ino())
        .ok();
    agent.keep_listener(&public)?;
    let live = site
        .live()
        .ok()
        .flatten()
        .unwrap_or_else(|| "nothing yet".into());
    ready(&public.local_addr()?.to_string(), &live);
    hoist_agent::run(agent, proxy, public, admin, tcp_admin, metrics, shutdown).await;
    // After an upgrade the path belongs to the successor: remove only our own socket.
    if std::fs::metadata(&socket)
        .map(|metadata| metadata.ino())
        .ok()
        == ours
    {
        let _ = std::fs::remove_file(&socket);
    }
    Ok(())
}

/// `hoist agent --upgrade`: the phases of [`hoist_agent::UpgradePhase`].
async fn upgrade(
    site: hoist_site::Site,
    config: &hoist_config::Config,
    ready: impl FnOnce(&str, &str),
) -> anyhow::Result<()> {
    use hoist_agent::UpgradePhase;
    let socket = site.socket_path();
    let old =
        hoist_agent::AgentClient::find(&socket).ok_or_else(|| crate::Failure::no_agent(&socket))?;
    let status_client = old.clone();
    let old_status = tokio::task::spawn_blocking(move || status_client.status()).await??;
    let (agent, proxy) = build(&site, config, old_status.listen.clone())?;

    tracing::info!(phase = ?UpgradePhase::StartingReleases);
    agent
        .start_for_upgrade()
        .await
        .context("the new agent could not start the live release; the old agent keeps serving")?;

    tracing::info!(phase = ?UpgradePhase::ReceivingListener);
    let handover = site.root().join("agent-handover.sock");
    let _ = std::fs::remove_file(&handover);
    let receiver = std::os::unix::net::UnixListener::bind(&handover)
        .context("cannot bind the handover socket")?;
    let receive = tokio::task::spawn_blocking(move || hoist_agent::receive_listener(&receiver));
    let path = handover.clone();
    tokio::task::spawn_blocking(move || old.hand_over(&path)).await??;
    let listener = receive.await??;
    let _ = std::fs::remove_file(&handover);
    listener.set_nonblocking(true)?;
    let public = tokio::net::TcpListener::from_std(listener)?;

    tracing::info!(phase = ?UpgradePhase::Serving);
    // Take over the admin path atomically: bind beside it, then rename over it.
    let fresh = socket.with_extension("sock.new");
    let admin = hoist_agent::bind_admin(&fresh)?;
    std::fs::rename(&fresh, &socket)?;
    let tcp_admin = tcp_admin(config, &site).await?;
    let metrics = metrics_listener(config, true).await?;
    let listeners = Listeners {
        public,
        admin,
        tcp_admin,
        metrics,
    };
    run(site, agent, proxy, listeners, shutdown_signal(), ready).await
}

fn settings(
    proxy: &hoist_config::Proxy,
    data: &hoist_config::Data,
    health_path: &str,
    root: &std::path::Path,
) -> anyhow::Result<Settings> {
    let tls = match (&proxy.tls_cert, &proxy.tls_key) {
        (Some(cert), Some(key)) => Some(
            hoist_proxy::Tls::from_pem_files(&root.join(cert), &root.join(key)).map_err(
                |problem| {
                    let settings = root.join(hoist_config::SITE_FILE);
                    crate::failure::Failure::new("tls-invalid", problem).hint(format!(
                        "fix `[proxy] tls_cert` and `tls_key` in `{}`, then start the agent again",
                        settings.display()
                    ))
                },
            )?,
        ),
        _ => None,
    };
    let header = |key: &str, name: &str| match name {
        "" => Ok(None),
        name => http::HeaderName::from_bytes(name.as_bytes())
            .map(Some)
            .with_context(|| format!("`{key}` `{name}` is not a header name")),
    };
    let release_header = header("proxy.release_header", &proxy.release_header)?;
    let data_header = header("data.header", &data.header)?;
    Ok(Settings {
        release_header,
        connect_timeout: proxy.connect_timeout,
        response_timeout: proxy.response_timeout,
        idle_timeout: proxy.idle_timeout,
        header_timeout: proxy.header_timeout,
        min_body_rate: proxy.min_body_rate.as_u64(),
        // Read after `raise_open_file_limit`, so the cap fits the raised limit.
        max_connections: proxy
            .max_connections
            .unwrap_or_else(|| hoist_proxy::default_max_connections(open_file_limit())),
        max_connections_per_client: proxy.max_connections_per_client,
        max_body_size: proxy.max_body_size.as_u64(),
        tls,
        health_path: health_path.to_owned(),
        error_pages: proxy
            .error_pages
            .iter()
            .filter_map(|(code, page)| Some((code.parse().ok()?, page.clone())))
            .collect(),
        releases: root.join("releases"),
        data_header,
    })
}

/// `kill -USR2 <agent>` upgrades in place, as with nginx and hypnotoad: the
/// agent starts `hoist agent --upgrade` with its own arguments (typically a
/// new binary at the same path), which takes the listener over; this agent
/// then drains and exits.
async fn upgrade_on_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut user2) = signal(SignalKind::user_defined2()) else {
        return;
    };
    while user2.recv().await.is_some() {
        let mut arguments: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        if !arguments.iter().any(|argument| argument == "--upgrade") {
            arguments.push("--upgrade".into());
        }
        let started = std::env::current_exe().and_then(|exe| {
            use std::os::unix::process::CommandExt;
            std::process::Command::new(exe)
                .args(&arguments)
                .stdin(std::process::Stdio::null())
                // Its own process group: a signal to ours must not reach it.
                .process_group(0)
                .spawn()
        });
        match started {
            Ok(child) => tracing::info!(pid = child.id(), "USR2: started the successor agent"),
            Err(error) => tracing::error!(%error, "USR2: cannot start the successor agent"),
        }
    }
}

/// Resolves on TERM or INT. The handlers are installed now, not when the
/// future is first polled: a TERM right after the readiness line must not
/// meet the default action and kill the agent without its shutdown.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut terminate), Ok(mut interrupt)) = handlers else {
            return std::future::pending().await;
        };
        let name = tokio::select! {
            _ = terminate.recv() => "TERM",
            _ = interrupt.recv() => "INT",
        };
        // Logged at the default level: an operator reading the journal must see why it stopped.
        tracing::info!(target: crate::LIFECYCLE, signal = name, "agent stopping");
    }
}

/// The first socket passed by systemd socket activation, if any.
fn systemd_listener() -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(0);
    if !ours || count == 0 {
        return Ok(None);
    }
    let listener = inherited_listener();
    listener.set_nonblocking(true)?;
    Ok(Some(tokio::net::TcpListener::from_std(listener)?))
}

#[allow(unsafe_code)]
fn inherited_listener() -> std::net::TcpListener {
    use std::os::fd::FromRawFd;
    // SAFETY: systemd's protocol says fd 3 is an open listening socket handed
    // to this pid (checked via LISTEN_PID) and owned by nobody else here.
    unsafe { std::net::TcpListener::from_raw_fd(3) }
}

/// The TCP admin listener and its token, when `[proxy] admin_listen` is set.
async fn tcp_admin(
    config: &hoist_config::Config,
    site: &hoist_site::Site,
) -> anyhow::Result<Option<(tokio::net::TcpListener, Arc<str>)>> {
    let (Some(listen), Some(token_file)) =
        (&config.proxy.admin_listen, &config.proxy.admin_token_file)
    else {
        return Ok(None);
    };
    let path = site.root().join(token_file);
    // A token every local user can read is no token: refused, naming the fix.
    let token = hoist_site::read_secret(&path)
        .with_context(|| format!("cannot use the admin token `{}`", path.display()))?;
    let token = token.trim();
    if token.len() < 16 {
        let message = format!(
            "the admin token in `{}` is shorter than 16 characters; use a long random one",
            path.display()
        );
        return Err(crate::Failure::new("config-invalid", message).into());
    }
    match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => Ok(Some((listener, Arc::from(token)))),
        // During `--upgrade` the old agent still holds the port until it exits.
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!("warning: TCP admin `{listen}` is in use (an agent being replaced?); only the Unix socket serves admin");
            Ok(None)
        }
        Err(error) => {
            Err(error).with_context(|| format!("cannot listen on `{listen}` for the admin API"))
        }
    }
}

/// The `/metrics` listener, when `[metrics] listen` is set. During
/// `--upgrade` the agent being replaced still holds the address: it is
/// bound once that one exits.
async fn metrics_listener(
    config: &hoist_config::Config,
    upgrading: bool,
) -> anyhow::Result<Option<hoist_agent::MetricsListener>> {
    let Some(listen) = &config.metrics.listen else {
        return Ok(None);
    };
    match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => Ok(Some(hoist_agent::MetricsListener::Bound(listener))),
        Err(error) if upgrading && error.kind() == std::io::ErrorKind::AddrInUse => {
            Ok(Some(hoist_agent::MetricsListener::Pending(listen.clone())))
        }
        // Metrics are not worth an outage: the site is served without them,
        // and the log says why and what to change.
        Err(error) => {
            tracing::warn!(
                %error,
                listen = %listen,
                "cannot listen for /metrics and the status page; serving without them (change `[metrics] listen` in site.toml, then restart the agent)"
            );
            Ok(None)
        }
    }
}

/// Without a `hoist.toml`: the live release's own, with the site's
/// `site.toml` over it, so `hoist agent --root R` needs nothing else.
fn live_config(root: &std::path::Path) -> anyhow::Result<hoist_config::Config> {
    let missing = || {
        let message = format!("no `hoist.toml` here and no live release at `{}` shipping one; the agent needs a `[process]` section", root.display());
        anyhow::Error::from(
            crate::Failure::new("no-config", message).hint("hoist agent --config FILE"),
        )
    };
    let context = hoist_deploy::Context::open_read_only(root).map_err(|_| missing())?;
    let live = context.site.live()?.ok_or_else(missing)?;
    context.config_for(&live, None)?.ok_or_else(missing)
}

/// The proxy's addresses and files with `$NAME` expanded from the site's
/// env file and environment; held in memory only, never written.
fn resolve_host_values(
    root: &std::path::Path,
    mut config: hoist_config::Config,
) -> anyhow::Result<hoist_config::Config> {
    let env_file = config.process.as_ref().and_then(|p| p.env_file.clone());
    let resolve =
        |key: &str, value: &str| hoist_deploy::resolve(root, env_file.as_deref(), key, value);
    let proxy = &mut config.proxy;
    proxy.listen = resolve("proxy.listen", &proxy.listen)?;
    if let Some(listen) = &mut proxy.admin_listen {
        *listen = resolve("proxy.admin_listen", listen)?;
    }
    if let Some(listen) = &mut config.metrics.listen {
        *listen = resolve("metrics.listen", listen)?;
    }
    for backend in &mut proxy.backend {
        backend.url = resolve("proxy.backend.url", &backend.url)?;
    }
    for (key, path) in [
        ("proxy.tls_cert", &mut proxy.tls_cert),
        ("proxy.tls_key", &mut proxy.tls_key),
    ] {
        if let Some(path) = path {
            *path = resolve(key, &path.to_string_lossy())?.into();
        }
    }
    Ok(config)
}

/// The soft open-file limit in force (1024, the usual default, if unknown).
fn open_file_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft)
}

/// Every client, held request and backend connection is a file descriptor:
/// raise the soft limit to the hard one, as nginx's `worker_rlimit_nofile`
/// does. Runs before the settings are made, which derive
/// `max_connections` from the limit.
fn raise_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}
