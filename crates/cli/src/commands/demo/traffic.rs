//! Steady keep-alive traffic for the demo, recording which release answered.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Counters shared by the traffic workers.
#[derive(Debug, Default)]
pub struct Counts {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
}

/// Runs `workers` keep-alive clients against `address` until `stop`, for
/// at most a minute; every answer's `X-Hoist-Release` goes to `seen`.
pub async fn run(
    address: String,
    workers: usize,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    seen: watch::Sender<String>,
) {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = Arc::new(seen);
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, stop, counts, seen, address) = (
                client.clone(),
                stop.clone(),
                counts.clone(),
                seen.clone(),
                address.clone(),
            );
            tokio::spawn(async move {
                let uri: hyper::Uri = format!("http://{address}/").parse().expect("valid");
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    counts.sent.fetch_add(1, Ordering::Relaxed);
                    let answer = client.get(uri.clone()).await;
                    let release = match answer {
                        Ok(response) if response.status().is_success() => {
                            let release = response
                                .headers()
                                .get("x-hoist-release")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let _ = response.into_body().collect().await;
                            release
                        }
                        _ => None,
                    };
                    match release {
                        Some(release) => {
                            seen.send_if_modified(|last| {
                                let changed = *last != release;
                                *last = release;
                                changed
                            });
                        }
                        None => {
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}
