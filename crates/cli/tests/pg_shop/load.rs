//! A bounded mixed load on the shop: a few keep-alive clients, each
//! alternating a POST that writes a row and a GET that reads, on 127.0.0.1.
//!
//! Every request is counted: a failure is any answer that is not 2xx, a
//! connection error, a timeout, or an answer whose proxy and app disagree on
//! the release. Every row the app acknowledged (201 with its id) is kept by
//! its item, so [`Outcome::lost_rows`] can compare them with the table.

use hoist_testkit::TestPostgres;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// At most this many requests per client, and this long in all.
const MAX_PER_CLIENT: u64 = 20_000;
const MAX_DURATION: Duration = Duration::from_secs(180);
/// Longer than any pause a test asks for: a held request is not a failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    failed: AtomicU64,
    problems: Mutex<Vec<String>>,
    acknowledged: Mutex<BTreeSet<String>>,
    by_release: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn fail(&self, problem: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut problems = self.problems.lock().unwrap();
        if problems.len() < 10 {
            problems.push(problem);
        }
    }
}

/// The load, running until [`MixedLoad::finish`] or its bounds.
pub struct MixedLoad {
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    runtime: tokio::runtime::Runtime,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Items this load writes start with it, so two loads never collide.
    prefix: String,
}

/// What the load saw.
#[derive(Debug)]
pub struct Outcome {
    /// Requests sent (answered or not).
    pub requests: u64,
    /// Of those, the ones that failed.
    pub failed: u64,
    /// The first few failures, said plainly.
    pub problems: Vec<String>,
    /// Items of the rows the app acknowledged.
    pub acknowledged: BTreeSet<String>,
    /// Successful answers per release (`X-Hoist-Release`).
    pub by_release: BTreeMap<String, u64>,
    prefix: String,
}

impl MixedLoad {
    /// Starts `clients` keep-alive clients against the proxy on `port`;
    /// their rows' items start with `prefix`.
    pub fn start(port: u16, clients: usize, prefix: &str) -> MixedLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + MAX_DURATION;
        let tasks = (0..clients)
            .map(|client| {
                let (stop, tally) = (stop.clone(), tally.clone());
                let prefix = format!("{prefix}-c{client}");
                runtime.spawn(run_client(port, prefix, stop, tally, deadline))
            })
            .collect();
        MixedLoad {
            stop,
            tally,
            runtime,
            tasks,
            prefix: prefix.to_owned(),
        }
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.tally.requests.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `more` further requests were sent: the load is
    /// flowing before an operation, and goes on after it.
    pub fn wait_for_more(&self, more: u64) {
        let target = self.requests() + more;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.requests() < target {
            assert!(
                Instant::now() < deadline,
                "the load sent only {} of {target} requests in 60s",
                self.requests()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the clients and returns what they saw.
    pub fn finish(self) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            self.runtime.block_on(task).unwrap();
        }
        let take = |set: &Mutex<BTreeSet<String>>| std::mem::take(&mut *set.lock().unwrap());
        Outcome {
            requests: self.tally.requests.load(Ordering::SeqCst),
            failed: self.tally.failed.load(Ordering::SeqCst),
            problems: self.tally.problems.lock().unwrap().clone(),
            acknowledged: take(&self.tally.acknowledged),
            by_release: self.tally.by_release.lock().unwrap().clone(),
            prefix: self.prefix,
        }
    }
}

impl Outcome {
    /// Compares the acknowledged rows with the table: (rows stored by this
    /// load, acknowledged rows missing from the table).
    pub fn rows(&self, postgres: &TestPostgres) -> (usize, Vec<String>) {
        let pattern = format!("{}-%", self.prefix);
        let stored: BTreeSet<String> = postgres
            .client()
            .query("SELECT item FROM orders WHERE item LIKE $1", &[&pattern])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        let lost = self.acknowledged.difference(&stored).cloned().collect();
        (stored.len(), lost)
    }
}

/// One keep-alive client: POST a row, GET the newest, until told to stop.
async fn run_client(
    port: u16,
    prefix: String,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    deadline: Instant,
) {
    // One client each, so each holds its own keep-alive connection.
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .build_http();
    let mut sent = 0u64;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline && sent < MAX_PER_CLIENT {
        sent += 1;
        let item = format!("{prefix}-{sent}");
        let (method, body) = if sent % 2 == 1 {
            ("POST", item.clone())
        } else {
            ("GET", String::new())
        };
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{port}/orders"))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        tally.requests.fetch_add(1, Ordering::SeqCst);
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = client.request(request).await?;
            let status = response.status();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let (proxy, app) = (header("x-hoist-release"), header("x-app-release"));
            let bytes = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, proxy, app, bytes))
        })
        .await;
        let (status, proxy, app, bytes) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                tally.fail(format!("{method} {item}: {error}"));
                continue;
            }
            Err(_) => {
                tally.fail(format!("{method} {item}: no answer in {REQUEST_TIMEOUT:?}"));
                continue;
            }
        };
        // The app's own error says why; its first line is enough.
        let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
        let release = match (&proxy, &app) {
            (Some(proxy), Some(app)) if status.is_success() && proxy == app => proxy.clone(),
            _ => {
                tally.fail(format!(
                    "{method} {item}: {status} proxy={proxy:?} app={app:?} body={text}"
                ));
                continue;
            }
        };
        if method == "POST" {
            let reply: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            if reply["item"] != item.as_str() || !reply["id"].is_u64() {
                tally.fail(format!("{method} {item}: acknowledged as {text}"));
                continue;
            }
            tally.acknowledged.lock().unwrap().insert(item);
        }
        *tally.by_release.lock().unwrap().entry(release).or_default() += 1;
    }
}
