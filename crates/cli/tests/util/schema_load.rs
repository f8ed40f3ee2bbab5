//! A bounded mixed load on the schema app (threads, each with its own
//! keep-alive connection through the public port): inserts, reads and
//! updates of users, each thread on its own rows so it always knows what a
//! row must hold.
//!
//! Every answer is judged by the release that gave it (`X-App-Release`,
//! looked up in [`Releases`]): a read must show the row's latest values in
//! that release's [`Shape`], whichever release wrote them. A failure is any
//! answer that is not the expected 2xx, a wrong value, an unknown release,
//! or a connection error. What each thread wrote is kept ([`Row`]) for the
//! checks through each release's view afterwards ([`super::schema_rows`]).

use super::keepalive::KeepAlive;
use super::schema_app::{Releases, Shape};
use super::schema_person::{Person, Row};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this many requests per thread, and this long in all.
const MAX_PER_THREAD: u64 = 40_000;
const MAX_DURATION: Duration = Duration::from_secs(300);
/// Longer than any pause hoist holds a request for.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where requests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    /// The public route only.
    Public,
    /// Every other request asks for the held candidate
    /// (`hoist-release: candidate`, honoured from loopback): each row is
    /// written and read by both releases.
    Alternate,
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    failed: AtomicU64,
    problems: Mutex<Vec<String>>,
    by_release: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    fn fail(&self, problem: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut problems = self.problems.lock().unwrap();
        if problems.len() < 20 {
            problems.push(problem);
        }
    }
}

/// The running load; [`UserLoad::finish`] stops it.
pub struct UserLoad {
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    threads: Vec<std::thread::JoinHandle<Vec<Row>>>,
}

/// What the load saw.
#[derive(Debug)]
pub struct Outcome {
    pub requests: u64,
    pub failed: u64,
    /// The first failures, said plainly.
    pub problems: Vec<String>,
    /// Every row the load wrote and had acknowledged, with what it must hold.
    pub rows: Vec<Row>,
    /// Answers per release.
    pub by_release: BTreeMap<String, u64>,
}

impl UserLoad {
    /// Starts `threads` threads against 127.0.0.1:`port`; rows' names carry
    /// `tag`, so two loads never write the same values.
    pub fn start(
        port: u16,
        threads: usize,
        steer: Steer,
        releases: &Releases,
        tag: &str,
    ) -> UserLoad {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        UserLoad::start_at(addr, threads, steer, releases, tag)
    }

    /// [`UserLoad::start`] at `addr` (a balancer's frontend).
    pub fn start_at(
        addr: std::net::SocketAddr,
        threads: usize,
        steer: Steer,
        releases: &Releases,
        tag: &str,
    ) -> UserLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let deadline = Instant::now() + MAX_DURATION;
        let threads = (0..threads)
            .map(|index| {
                let worker = Worker {
                    client: KeepAlive::new(addr, REQUEST_TIMEOUT),
                    tag: format!("{tag}t{index}"),
                    steer,
                    releases: releases.clone(),
                    tally: tally.clone(),
                    rows: Vec::new(),
                    random: 0x9e37_79b9 ^ (index as u64 + 1),
                };
                let stop = stop.clone();
                std::thread::spawn(move || worker.run(&stop, deadline))
            })
            .collect();
        UserLoad {
            stop,
            tally,
            threads,
        }
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.tally.requests.load(Ordering::SeqCst)
    }

    /// Requests that failed so far.
    pub fn failed(&self) -> u64 {
        self.tally.failed.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `more` further requests were sent.
    #[track_caller]
    pub fn wait_for_more(&self, more: u64) {
        let target = self.requests() + more;
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.requests() < target {
            assert!(
                Instant::now() < deadline,
                "the load sent only {} of {target} requests in 90s",
                self.requests()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Keeps the load going for `span` (it is the measure: a held
    /// candidate taking test traffic for 10 s).
    pub fn run_for(&self, span: Duration) {
        let until = Instant::now() + span;
        while Instant::now() < until {
            self.wait_for_more(1);
        }
    }

    /// Stops the threads and returns what they saw.
    pub fn finish(self) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        let rows = self
            .threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect();
        Outcome {
            requests: self.tally.requests.load(Ordering::SeqCst),
            failed: self.tally.failed.load(Ordering::SeqCst),
            problems: self.tally.problems.lock().unwrap().clone(),
            rows,
            by_release: self.tally.by_release.lock().unwrap().clone(),
        }
    }
}

impl Outcome {
    /// Asserts no request failed, saying what went wrong otherwise.
    #[track_caller]
    pub fn assert_no_failure(&self, what: &str) {
        eprintln!(
            "{what}: {} requests, {} failed, {} rows; answers by release {:?}",
            self.requests,
            self.failed,
            self.rows.len(),
            self.by_release
        );
        assert_eq!(
            self.failed, 0,
            "{what}: {} of {} requests failed: {:#?}",
            self.failed, self.requests, self.problems
        );
    }
}

/// One thread: insert, read, update, read, on its own rows.
struct Worker {
    client: KeepAlive,
    tag: String,
    steer: Steer,
    releases: Releases,
    tally: Arc<Tally>,
    rows: Vec<Row>,
    random: u64,
}

impl Worker {
    fn run(mut self, stop: &AtomicBool, deadline: Instant) -> Vec<Row> {
        let mut sent = 0u64;
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline && sent < MAX_PER_THREAD {
            sent += 1;
            let headers = match self.steer {
                Steer::Alternate if sent.is_multiple_of(2) => "hoist-release: candidate\r\n",
                _ => "",
            };
            self.tally.requests.fetch_add(1, Ordering::SeqCst);
            let pick = self.pick();
            match (sent % 4, pick) {
                (1, _) | (_, None) => self.insert(sent, headers),
                (3, Some(index)) => self.update(index, sent, headers),
                (_, Some(index)) => self.read(index, headers),
            }
        }
        self.rows
    }

    /// A row of this thread's, at random (xorshift: no shared state).
    fn pick(&mut self) -> Option<usize> {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        (!self.rows.is_empty()).then(|| (self.random % self.rows.len() as u64) as usize)
    }

    /// Sends the request; the release, shape and JSON of a `want`
    /// answer, or `None` with the failure counted.
    fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: Option<&Person>,
        want: u16,
    ) -> Option<(String, Shape, serde_json::Value)> {
        let what = format!("{method} {path}");
        let body = body.map_or_else(Vec::new, |person| {
            Shape::all_bodies(person).to_string().into_bytes()
        });
        let answer = match self.client.send(method, path, headers, &body) {
            Ok(answer) => answer,
            Err(error) => {
                self.tally.fail(format!("{what}: {error}"));
                return None;
            }
        };
        let text: String = String::from_utf8_lossy(&answer.body)
            .chars()
            .take(300)
            .collect();
        let release = answer
            .header("x-app-release")
            .unwrap_or_default()
            .to_owned();
        if let Some(proxy) = answer.header("x-hoist-release") {
            if proxy != release {
                self.tally.fail(format!(
                    "{what}: the proxy says `{proxy}`, the app `{release}`"
                ));
                return None;
            }
        }
        let Some(shape) = self.releases.shape(&release) else {
            self.tally.fail(format!(
                "{what}: {} from unknown release `{release}`: {text}",
                answer.status
            ));
            return None;
        };
        if answer.status != want {
            self.tally.fail(format!(
                "{what}: {} from `{release}`: {text}",
                answer.status
            ));
            return None;
        }
        *self
            .tally
            .by_release
            .lock()
            .unwrap()
            .entry(release.clone())
            .or_default() += 1;
        let json = serde_json::from_slice(&answer.body).unwrap_or_default();
        Some((release, shape, json))
    }

    fn insert(&mut self, sent: u64, headers: &str) {
        let person = Person::new(&format!("{}n{sent}", self.tag));
        let Some((release, shape, json)) = self.call("POST", "/users", headers, Some(&person), 201)
        else {
            return;
        };
        match json["id"].as_i64() {
            Some(id) => self.rows.push(Row::inserted(id, person, shape, &release)),
            None => self.tally.fail(format!("POST /users: no id in {json}")),
        }
    }

    fn update(&mut self, index: usize, sent: u64, headers: &str) {
        let person = Person::new(&format!("{}u{sent}", self.tag));
        let path = format!("/users/{}", self.rows[index].id);
        match self.call("PUT", &path, headers, Some(&person), 200) {
            Some((release, shape, _)) => self.rows[index].updated(person, shape, &release),
            // Whether it landed is unknown, so the row can no longer be
            // checked (the failure is counted).
            None => {
                self.rows.swap_remove(index);
            }
        }
    }

    fn read(&mut self, index: usize, headers: &str) {
        let path = format!("/users/{}", self.rows[index].id);
        let Some((release, shape, json)) = self.call("GET", &path, headers, None, 200) else {
            return;
        };
        if let Err(problem) = self.rows[index].check(shape, &json) {
            self.tally
                .fail(format!("GET {path} from `{release}`: {problem}"));
        }
    }
}
