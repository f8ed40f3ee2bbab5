//! A bounded keep-alive load that tells failed requests from requests cut by
//! a `kill -9` of the agent. Each worker keeps one connection of its own and
//! knows whether the killed agent could have had it open; it never retries a
//! request (a reused connection found closed *before* a request is sent is
//! replaced, as a browser does, and nothing was sent on it).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How an answer is judged: `Err` says what is wrong with it.
pub type Check =
    fn(status: u16, headers: &http::HeaderMap, body: &str, sent: &str) -> Result<(), String>;

/// One kind of request, sent by `workers` workers in a loop.
#[derive(Clone)]
pub struct Target {
    pub port: u16,
    pub method: &'static str,
    pub path: &'static str,
    pub workers: usize,
    pub check: Check,
}

/// Before, during and after a `kill -9`, as the test marks them.
const BEFORE: u8 = 0;
const KILLING: u8 = 1;
const AFTER: u8 = 2;

/// What the load saw.
#[derive(Debug, Default)]
pub struct Counts {
    pub sent: u64,
    pub ok: u64,
    /// A wrong answer, or no answer on a connection the killed agent never had.
    pub failed: u64,
    /// No answer: in flight on the killed agent's connection when it died.
    pub cut_in_flight: u64,
    /// No answer: sent after the kill on a connection the killed agent had
    /// open, before the client had seen it close.
    pub cut_dead_connection: u64,
    pub problems: Vec<String>,
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    cut_in_flight: AtomicU64,
    cut_dead_connection: AtomicU64,
    problems: Mutex<Vec<String>>,
}

impl Tally {
    fn note(&self, counter: &AtomicU64, problem: String) {
        counter.fetch_add(1, Ordering::SeqCst);
        let mut problems = self.problems.lock().unwrap();
        if problems.len() < 10 {
            problems.push(problem);
        }
    }
}

/// A running load; [`CountedLoad::finish`] stops it.
pub struct CountedLoad {
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicU8>,
    tally: Arc<Tally>,
    runtime: tokio::runtime::Runtime,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Each worker sends at most this many requests, and none after this long.
const MAX_PER_WORKER: u64 = 50_000;
const MAX_TIME: Duration = Duration::from_secs(240);
/// A request held by a pause waits for `hoist resume`; never longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

impl CountedLoad {
    pub fn start(targets: &[Target]) -> CountedLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(AtomicU8::new(BEFORE));
        let tally = Arc::new(Tally::default());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + MAX_TIME;
        let mut tasks = Vec::new();
        for target in targets {
            for worker in 0..target.workers {
                let (target, stop, phase, tally) =
                    (target.clone(), stop.clone(), phase.clone(), tally.clone());
                tasks.push(runtime.spawn(async move {
                    work(target, worker, stop, phase, tally, deadline).await;
                }));
            }
        }
        CountedLoad {
            stop,
            phase,
            tally,
            runtime,
            tasks,
        }
    }

    /// Answers that passed their check so far.
    pub fn ok(&self) -> u64 {
        self.tally.ok.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `more` further answers passed; false if they never came.
    pub fn wait_for_more(&self, more: u64, within: Duration) -> bool {
        let (wanted, deadline) = (self.ok() + more, Instant::now() + within);
        while self.ok() < wanted {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Call right before sending `kill -9` to the agent.
    pub fn killing(&self) {
        self.phase.store(KILLING, Ordering::SeqCst);
    }

    /// Call once the killed agent is gone (reaped).
    pub fn killed(&self) {
        self.phase.store(AFTER, Ordering::SeqCst);
    }

    pub fn finish(self) -> Counts {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            self.runtime.block_on(task).unwrap();
        }
        let tally = &self.tally;
        let count = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        Counts {
            sent: count(&tally.sent),
            ok: count(&tally.ok),
            failed: count(&tally.failed),
            cut_in_flight: count(&tally.cut_in_flight),
            cut_dead_connection: count(&tally.cut_dead_connection),
            problems: tally.problems.lock().unwrap().clone(),
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(port: u16) -> Result<Sender, String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|error| format!("connect: {error}"))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|error| format!("handshake: {error}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn work(
    target: Target,
    worker: usize,
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicU8>,
    tally: Arc<Tally>,
    deadline: Instant,
) {
    // The connection and the phase it was opened in.
    let mut connection: Option<(Sender, u8)> = None;
    let mut sent = 0u64;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline && sent < MAX_PER_WORKER {
        let (sender, opened) = match connection.take() {
            Some(open) => open,
            None => {
                let opened = phase.load(Ordering::SeqCst);
                match connect(target.port).await {
                    Ok(sender) => (sender, opened),
                    Err(problem) => {
                        tally.sent.fetch_add(1, Ordering::SeqCst);
                        tally.note(&tally.failed, format!("{}: {problem}", target.path));
                        continue;
                    }
                }
            }
        };
        let mut sender = sender;
        // Closed by the server between requests: nothing was sent on it.
        if sender.ready().await.is_err() {
            continue;
        }
        sent += 1;
        tally.sent.fetch_add(1, Ordering::SeqCst);
        let body = match target.method {
            "POST" => format!("body {} {worker} {sent}", target.path),
            _ => String::new(),
        };
        let request = http::Request::builder()
            .method(target.method)
            .uri(target.path)
            .header(http::header::HOST, "shop")
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        let started = phase.load(Ordering::SeqCst);
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = sender.send_request(request).await?;
            let (head, incoming) = response.into_parts();
            let bytes = incoming.collect().await?.to_bytes();
            Ok::<_, hyper::Error>((head, bytes))
        })
        .await;
        match answer {
            Ok(Ok((head, bytes))) => {
                let text = String::from_utf8_lossy(&bytes);
                match (target.check)(head.status.as_u16(), &head.headers, &text, &body) {
                    Ok(()) => tally.ok.fetch_add(1, Ordering::SeqCst),
                    Err(problem) => {
                        tally.note(
                            &tally.failed,
                            format!("{} {}: {problem}", target.method, target.path),
                        );
                        0
                    }
                };
                connection = Some((sender, opened));
            }
            Ok(Err(error)) => {
                let now = phase.load(Ordering::SeqCst);
                let problem = format!("{} {}: {error:?}", target.method, target.path);
                let (counter, kind) = if opened == AFTER || now == BEFORE {
                    (&tally.failed, "failed")
                } else if started == AFTER {
                    (&tally.cut_dead_connection, "cut (dead connection)")
                } else {
                    (&tally.cut_in_flight, "cut (in flight)")
                };
                tally.note(counter, format!("{kind}: {problem}"));
            }
            Err(_) => tally.note(
                &tally.failed,
                format!(
                    "{} {}: no answer within {REQUEST_TIMEOUT:?}",
                    target.method, target.path
                ),
            ),
        }
    }
}
