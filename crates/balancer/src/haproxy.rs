//! [`Haproxy`]: a [`Balancer`] over HAProxy's runtime API, on a local unix
//! socket opened with `stats socket PATH level admin`. (A remote HAProxy's
//! socket is forwarded to a local path by the caller; this only ever sees
//! a local path.)
//!
//! Servers are changed with `set server BACKEND/SERVER state
//! ready|drain|maint` and read with `show stat BACKEND 6 -1` (the backend's
//! row and its servers'). HAProxy has no push signal for "this server went
//! idle", so [`Balancer::wait_idle`] polls `scur` until it reaches 0 or the
//! deadline passes.

use crate::runtime_api::{checked_name, RuntimeApi};
use crate::stat::{self, StatRow};
use crate::{Balancer, BalancerError, Counters, Idle, ServerStatus, Traffic};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a drained server's sessions are looked at: short enough that
/// a wave does not wait long past the last request, long enough that the
/// polling is nothing to HAProxy.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The longest one runtime API command may take before it is a failure.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The admin states `set server ... state` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminState {
    /// In rotation.
    Ready,
    /// No new requests; those in flight (and persistent sessions) finish.
    Drain,
    /// No traffic at all; health checks stop.
    Maint,
}

impl AdminState {
    fn word(self) -> &'static str {
        match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        }
    }
}

/// One HAProxy backend, driven through its runtime API socket.
#[derive(Debug, Clone)]
pub struct Haproxy {
    api: RuntimeApi,
    backend: String,
    /// Host name → HAProxy server name, for hosts whose server is not
    /// named after them.
    servers: BTreeMap<String, String>,
    poll_interval: Duration,
}

impl Haproxy {
    /// Drives `backend` through the runtime API at `socket`; each host's
    /// server is named after the host until [`Haproxy::with_servers`] says
    /// otherwise.
    pub fn new(socket: impl Into<PathBuf>, backend: impl Into<String>) -> Haproxy {
        Haproxy {
            api: RuntimeApi::new(socket.into(), IO_TIMEOUT),
            backend: backend.into(),
            servers: BTreeMap::new(),
            poll_interval: POLL_INTERVAL,
        }
    }

    /// Names the HAProxy server of each host listed (host → server).
    pub fn with_servers(mut self, servers: BTreeMap<String, String>) -> Haproxy {
        self.servers = servers;
        self
    }

    /// How often [`Balancer::wait_idle`] looks (default 100 ms).
    pub fn with_poll_interval(mut self, interval: Duration) -> Haproxy {
        self.poll_interval = interval;
        self
    }

    /// The longest one command may take (default 5 s).
    pub fn with_io_timeout(mut self, timeout: Duration) -> Haproxy {
        self.api = RuntimeApi::new(self.api.socket().to_owned(), timeout);
        self
    }

    /// The runtime API socket.
    pub fn socket(&self) -> &Path {
        self.api.socket()
    }

    /// The backend driven.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The HAProxy server name of `host`.
    pub fn server_name<'a>(&'a self, host: &'a str) -> &'a str {
        self.servers.get(host).map_or(host, String::as_str)
    }

    /// Sets `host`'s server to `state` (`set server BACKEND/SERVER state ...`).
    pub fn set_state(&self, host: &str, state: AdminState) -> Result<(), BalancerError> {
        let backend = checked_name("backend", &self.backend)?;
        let server = checked_name("server", self.server_name(host))?;
        let command = format!("set server {backend}/{server} state {}", state.word());
        match self.api.act(&command)? {
            None => Ok(()),
            Some(answer) => Err(self.refusal(Some(host), command, answer)),
        }
    }

    /// Turns HAProxy's error text for a command (about `host`, if it names
    /// one) into the error it stands for.
    fn refusal(&self, host: Option<&str>, command: String, answer: String) -> BalancerError {
        let socket = self.socket().to_owned();
        match (answer.as_str(), host) {
            ("No such server.", Some(host)) => self.no_server(host),
            ("No such backend." | "No such proxy.", _) => BalancerError::NoBackend {
                socket,
                backend: self.backend.clone(),
            },
            ("Permission denied", _) => BalancerError::NotAdmin {
                socket,
                level: answer,
            },
            _ => BalancerError::Refused {
                socket,
                command,
                answer,
            },
        }
    }

    fn no_server(&self, host: &str) -> BalancerError {
        BalancerError::NoServer {
            socket: self.socket().to_owned(),
            backend: self.backend.clone(),
            server: self.server_name(host).to_owned(),
            host: host.to_owned(),
        }
    }

    /// The backend's `show stat` rows: its `BACKEND` row and its servers'.
    fn stat(&self) -> Result<BackendStat, BalancerError> {
        let backend = checked_name("backend", &self.backend)?;
        // 6 = backends (2) and servers (4); -1 = every server.
        let command = format!("show stat {backend} 6 -1");
        let answer = self.api.ask(&command)?;
        if !answer.starts_with('#') {
            return Err(self.refusal(None, command, answer.trim().to_owned()));
        }
        let rows = stat::parse(&answer).map_err(|problem| BalancerError::BadStat {
            socket: self.socket().to_owned(),
            problem,
        })?;
        let (totals, servers): (Vec<StatRow>, Vec<StatRow>) = rows
            .into_iter()
            .filter(|r| r.proxy == backend)
            .partition(|r| r.name == "BACKEND");
        // A frontend-only proxy of that name answers with no `BACKEND` row.
        let totals = totals
            .into_iter()
            .next()
            .ok_or_else(|| BalancerError::NoBackend {
                socket: self.socket().to_owned(),
                backend: self.backend.clone(),
            })?;
        Ok(BackendStat { totals, servers })
    }

    /// `host`'s server row.
    fn server_row(&self, stat: &BackendStat, host: &str) -> Result<StatRow, BalancerError> {
        let server = checked_name("server", self.server_name(host))?;
        stat.server(server)
            .cloned()
            .ok_or_else(|| self.no_server(host))
    }
}

/// One `show stat` reading of a backend.
struct BackendStat {
    /// The `BACKEND` row: the backend as a whole.
    totals: StatRow,
    servers: Vec<StatRow>,
}

impl BackendStat {
    fn server(&self, server: &str) -> Option<&StatRow> {
        self.servers.iter().find(|r| r.name == server)
    }
}

fn counters(row: &StatRow) -> Counters {
    Counters {
        requests: row.requests,
        responses_5xx: row.responses_5xx,
        connection_errors: row.connection_errors,
    }
}

impl Balancer for Haproxy {
    fn check(&self, hosts: &[String]) -> Result<(), BalancerError> {
        let command = "show cli level";
        let answer = self.api.ask(command)?;
        match answer.trim() {
            "admin" => {}
            level @ ("operator" | "user") => {
                return Err(BalancerError::NotAdmin {
                    socket: self.socket().to_owned(),
                    level: level.to_owned(),
                })
            }
            // HAProxy before 2.0 has no `show cli level`.
            other => return Err(self.refusal(None, command.to_owned(), other.to_owned())),
        }
        let stat = self.stat()?;
        for host in hosts {
            self.server_row(&stat, host)?;
        }
        Ok(())
    }

    fn drain(&self, host: &str) -> Result<(), BalancerError> {
        self.set_state(host, AdminState::Drain)
    }

    fn wait_idle(&self, host: &str, timeout: Duration) -> Result<Idle, BalancerError> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            let row = self.server_row(&self.stat()?, host)?;
            let in_flight = row.sessions + row.queued;
            if in_flight == 0 {
                return Ok(Idle {
                    waited: start.elapsed(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(BalancerError::NotIdle {
                    socket: self.socket().to_owned(),
                    backend: self.backend.clone(),
                    server: row.name,
                    sessions: in_flight,
                    waited: start.elapsed(),
                });
            }
            // Polling, not synchronisation: HAProxy has nothing to wait on.
            std::thread::sleep(self.poll_interval.min(deadline - now));
        }
    }

    fn ready(&self, host: &str) -> Result<(), BalancerError> {
        self.set_state(host, AdminState::Ready)
    }

    fn status(&self, host: &str) -> Result<ServerStatus, BalancerError> {
        let row = self.server_row(&self.stat()?, host)?;
        Ok(ServerStatus::from_haproxy(&row.status))
    }

    fn traffic(&self, hosts: &[String]) -> Result<Traffic, BalancerError> {
        let stat = self.stat()?;
        let mut traffic = Traffic {
            backend: counters(&stat.totals),
            hosts: BTreeMap::new(),
        };
        for host in hosts {
            let row = self.server_row(&stat, host)?;
            traffic.hosts.insert(host.clone(), counters(&row));
        }
        Ok(traffic)
    }
}
