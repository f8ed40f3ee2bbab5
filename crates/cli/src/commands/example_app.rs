//! The bundled example app (`hoist example-app`): what `hoist demo` and the
//! tests deploy. A small real HTTP server that exercises everything a proxy
//! must carry: keep-alive, slow requests, POST bodies, server-sent events,
//! and an upgraded connection. It answers with the release it belongs to.
//! `/bytes?n=N` answers N bytes (at most 16 MiB) for the proxy benchmark.
//!
//! A release can be made deliberately broken by shipping a marker file:
//! `crash-at-start`, `never-bind`, `health-fails`, `fail-requests` (500 on
//! everything but the health check) or `exit-after-ms` (dies after that long).
//!
//! Like an app with a data set in memory, it reads `$HOIST_DATA/version.txt`
//! at start and again on SIGHUP (what `hoist data roll` sends with
//! `[data] reload = "HUP"`), and serves it at `/data`.

use crate::cli::Global;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (default: 127.0.0.1:$PORT).
    #[arg(long)]
    listen: Option<String>,
}

type Body = BoxBody<Bytes, Infallible>;

/// The most `/bytes` answers.
const BYTES_MAX: usize = 16 * 1024 * 1024;

pub fn exec(_global: &Global, args: Args) -> anyhow::Result<i32> {
    if Path::new("crash-at-start").exists() {
        anyhow::bail!("example app: `crash-at-start` present, exiting");
    }
    if Path::new("never-bind").exists() {
        eprintln!("example app: ready! (but never binding, like an apachectl that lies)");
        std::thread::sleep(Duration::from_secs(3600));
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".into());
    let listen = args.listen.unwrap_or_else(|| format!("127.0.0.1:{port}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve(listen))
}

async fn serve(listen: String) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    if let Some(delay) = std::fs::read_to_string("exit-after-ms")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
    {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            eprintln!("example app: `exit-after-ms` reached, exiting");
            std::process::exit(3);
        });
    }
    eprintln!("example app {} listening on {listen}", release());
    reload_data();
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            reload_data();
        }
    });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            _ = terminate.recv() => break,
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service_fn(handle))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    // Finish what is in flight, then exit: the agent has already routed new requests elsewhere.
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
    Ok(crate::EXIT_OK)
}

/// The data set in memory: `$HOIST_DATA/version.txt` as last (re)loaded.
static DATA: std::sync::RwLock<String> = std::sync::RwLock::new(String::new());

fn reload_data() {
    let Ok(dir) = std::env::var("HOIST_DATA") else {
        return;
    };
    // Through the `data/current` link: a roll is seen on the next open.
    match std::fs::read_to_string(Path::new(&dir).join("version.txt")) {
        Ok(text) => {
            eprintln!("example app: data `{}` loaded", text.trim());
            *DATA.write().expect("never poisoned") = text.trim().to_owned();
        }
        Err(error) => eprintln!("example app: no data at {dir}: {error}"),
    }
}

fn release() -> String {
    std::env::var("HOIST_RELEASE").unwrap_or_else(|_| "dev".into())
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = status;
    response
}

fn query_number(request: &Request<Incoming>, key: &str, default: u64) -> u64 {
    let query = request.uri().query().unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(default)
}

async fn handle(mut request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let release = release();
    let mut response = match request.uri().path() {
        "/healthz" if Path::new("health-fails").exists() => {
            text(StatusCode::INTERNAL_SERVER_ERROR, "unhealthy\n".into())
        }
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        _ if Path::new("fail-requests").exists() => {
            text(StatusCode::INTERNAL_SERVER_ERROR, "broken release\n".into())
        }
        "/data" => {
            let data = DATA.read().expect("never poisoned").clone();
            text(StatusCode::OK, format!("data {data} by {release}\n"))
        }
        "/bytes" => {
            let length = query_number(&request, "n", 65536).min(BYTES_MAX as u64) as usize;
            // One block made once and sliced: the app's cost per response stays small.
            static BLOCK: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
            let block = BLOCK.get_or_init(|| Bytes::from(vec![b'.'; BYTES_MAX]));
            Response::new(Full::new(block.slice(..length)).boxed())
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(query_number(&request, "ms", 1000))).await;
            text(StatusCode::OK, format!("slow done by {release}\n"))
        }
        "/echo" => {
            let bytes = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            let mut response = text(StatusCode::OK, String::from_utf8_lossy(&bytes).into_owned());
            if let Ok(value) = release.parse() {
                response.headers_mut().insert("x-app-release", value);
            }
            return Ok(response);
        }
        "/sse" => {
            let count = query_number(&request, "n", 10);
            let every = query_number(&request, "ms", 100);
            let tag = release.clone();
            let (sender, receiver) =
                tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
            tokio::spawn(async move {
                for index in 0..count {
                    let event = Frame::data(Bytes::from(format!("data: {tag} {index}\n\n")));
                    if sender.send(Ok(event)).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(every)).await;
                }
            });
            let stream = tokio_stream(receiver);
            let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                "text/event-stream".parse().expect("valid"),
            );
            response
        }
        "/upgrade" => {
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                if let Ok(upgraded) = upgrade.await {
                    let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
                    let _ = tokio::io::copy(&mut reader, &mut writer).await;
                }
            });
            let mut response = text(StatusCode::SWITCHING_PROTOCOLS, String::new());
            response
                .headers_mut()
                .insert(http::header::CONNECTION, "upgrade".parse().expect("valid"));
            response
                .headers_mut()
                .insert(http::header::UPGRADE, "echo".parse().expect("valid"));
            response
        }
        _ => {
            let page = std::fs::read_to_string("public/index.html")
                .unwrap_or_else(|_| format!("hello from {release}\n"));
            text(StatusCode::OK, page)
        }
    };
    if let Ok(value) = release.parse() {
        response.headers_mut().insert("x-app-release", value);
    }
    Ok(response)
}

/// Adapts an mpsc receiver into a `Stream` for `StreamBody`.
fn tokio_stream<T>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
