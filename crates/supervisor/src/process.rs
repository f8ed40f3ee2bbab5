//! One release's process group: start, readiness, exit watching, stop.

use crate::group;
use crate::health;
use crate::identity::{self, Identity};
use crate::logs::Log;
use nix::sys::signal::Signal;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How to run a release.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The release id (`HOIST_RELEASE`).
    pub release: String,
    /// The release dir; the command runs here.
    pub dir: PathBuf,
    /// Shell command; `$PORT` is set in its environment.
    pub command: String,
    /// Extra environment (`HOIST_ROOT`, secrets from the env file, ...).
    pub env: Vec<(String, String)>,
    /// Where stdout and stderr go.
    pub log: PathBuf,
    /// The signal that asks it to stop.
    pub stop_signal: Signal,
    /// How long it gets after that before KILL.
    pub stop_timeout: Duration,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
}

impl Spec {
    /// A spec with defaults: TERM, 30 s, a free port.
    pub fn new(release: &str, dir: &Path, command: &str, log: &Path) -> Spec {
        Spec {
            release: release.to_owned(),
            dir: dir.to_owned(),
            command: command.to_owned(),
            env: Vec::new(),
            log: log.to_owned(),
            stop_signal: Signal::SIGTERM,
            stop_timeout: Duration::from_secs(30),
            port: 0,
        }
    }
}

/// A running (or exited) release process.
#[derive(Debug)]
pub struct Process {
    spec: Spec,
    port: u16,
    /// Who it is: every signal checks this first.
    identity: Identity,
    log: Log,
    /// `Some(description)` once the process has exited.
    exit: watch::Receiver<Option<String>>,
    /// Set once [`Process::stop`] finished: nothing of it runs any more.
    stopped: AtomicBool,
}

impl Process {
    /// Starts `spec.command` in its own process group with `PORT` set.
    pub async fn start(spec: Spec) -> std::io::Result<Process> {
        let port = if spec.port == 0 {
            free_port()?
        } else {
            spec.port
        };
        let log = Log::open(&spec.log)?;
        let token = identity::new_token();
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&spec.command)
            .current_dir(&spec.dir)
            .envs(
                spec.env
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
            )
            .env("PORT", port.to_string())
            .env("HOIST_RELEASE", &spec.release)
            // Inherited by everything it forks: how its group is told from strangers.
            .env(identity::MARKER, &token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so stop reaches everything it forks.
            .process_group(0)
            .spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("process exited before it started"))?;
        // Not reaped yet (nothing waits on it before this), so `/proc` shows it.
        let Some(identity) = Identity::of_child(pid, token) else {
            // Our own unreaped child: its pid cannot have been reused.
            let _ = child.start_kill();
            return Err(std::io::Error::other(format!(
                "cannot read `/proc/{pid}/stat` of the process just started"
            )));
        };
        if let Some(stdout) = child.stdout.take() {
            log.pump(stdout);
        }
        if let Some(stderr) = child.stderr.take() {
            log.pump(stderr);
        }
        let (report, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(error) => format!("wait failed: {error}"),
            };
            let _ = report.send(Some(status));
        });
        tracing::info!(release = %spec.release, pid, port, start_ticks = identity.start_ticks, "started");
        Ok(Process {
            spec,
            port,
            identity,
            log,
            exit,
            stopped: AtomicBool::new(false),
        })
    }

    /// The release this process runs.
    pub fn release(&self) -> &str {
        &self.spec.release
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Its process id (and process group id).
    pub fn pid(&self) -> u32 {
        self.identity.pid
    }

    /// Who it is, for a successor to find it by (see [`crate::stop_orphan`]).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Whether [`Process::stop`] has finished with it.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// How it exited, if it has.
    pub fn exited(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// Resolves when the process exits, with how.
    pub async fn wait_exit(&self) -> String {
        let mut exit = self.exit.clone();
        let status = match exit.wait_for(Option::is_some).await {
            Ok(status) => status.clone().unwrap_or_default(),
            Err(_) => "unknown".to_owned(),
        };
        status
    }

    /// Sends `signal` to the app itself, not to the `sh -c` wrapper around
    /// it (which would die of a HUP and orphan the app); returns how many
    /// processes got it.
    pub fn signal_app(&self, signal: Signal) -> usize {
        group::signal_app(&self.identity, signal)
    }

    /// Whether the app (the processes [`Process::signal_app`] would
    /// signal) acts on `signal`: `Err` says which one would die of it, or
    /// ignores it, so a reload by signal can be refused before any harm.
    pub fn takes_signal(&self, signal: Signal) -> Result<(), String> {
        for (pid, command, what) in group::app_dispositions(&self.identity, signal) {
            match what {
                group::Disposition::Caught => {}
                group::Disposition::Fatal => {
                    return Err(format!(
                        "`{}` (pid {pid}) does not handle {}, so it would die of it",
                        command.escape_debug(),
                        signal.as_str()
                    ))
                }
                group::Disposition::Ignored => {
                    return Err(format!(
                        "`{}` (pid {pid}) ignores {}, so it would not reload",
                        command.escape_debug(),
                        signal.as_str()
                    ))
                }
            }
        }
        Ok(())
    }

    /// The last lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.log.tail(lines)
    }

    /// Waits until `GET path` answers 2xx `times` in a row, failing early if
    /// the process exits, and after `within` with the last problem seen.
    pub async fn wait_ready(&self, path: &str, times: u32, within: Duration) -> Result<(), String> {
        let url = format!("http://{}{path}", self.addr());
        let deadline = tokio::time::Instant::now() + within;
        let mut streak = 0;
        let mut last = String::from("never probed");
        loop {
            if let Some(status) = self.exited() {
                return Err(format!(
                    "`{}` exited ({status}) before it was ready",
                    self.spec.command
                ));
            }
            match health::probe(&url).await {
                Ok(()) => {
                    streak += 1;
                    if streak >= times.max(1) {
                        return Ok(());
                    }
                }
                Err(problem) => {
                    streak = 0;
                    last = problem;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let never_bound = last.contains("refused");
                let what = if never_bound {
                    format!("never listened on port {}", self.port)
                } else {
                    format!("health check `{path}` {last}")
                };
                return Err(format!(
                    "`{}` {what} within {}s",
                    self.spec.command,
                    within.as_secs_f32()
                ));
            }
            // The health endpoint is the readiness signal; this is the probe interval.
            let mut exit = self.exit.clone();
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = exit.wait_for(Option::is_some) => {}
            }
        }
    }

    /// Sends the stop signal to the group, then KILL after the stop timeout.
    pub async fn stop(&self) -> String {
        let deadline = tokio::time::Instant::now() + self.spec.stop_timeout;
        if self.exited().is_none() {
            group::signal_group(&self.identity, self.spec.stop_signal);
            if tokio::time::timeout_at(deadline, self.wait_exit())
                .await
                .is_err()
            {
                tracing::warn!(release = %self.spec.release, pid = self.pid(), "did not stop in time; killing");
                group::signal_group(&self.identity, Signal::SIGKILL);
            }
        } else if group::alive(&self.identity) {
            // The shell is gone but the app it started is not: stop the rest of the group.
            group::signal_group(&self.identity, self.spec.stop_signal);
        }
        crate::stop::wait_gone(&self.identity, deadline).await;
        let status = self.wait_exit().await;
        self.stopped.store(true, Ordering::SeqCst);
        tracing::info!(release = %self.spec.release, pid = self.pid(), %status, "stopped");
        status
    }
}

impl Drop for Process {
    /// A process nobody holds any more must not outlive its owner (an early
    /// error, a panic): kill its group. Orderly shutdown calls `stop` first.
    fn drop(&mut self) {
        if !self.is_stopped() {
            group::signal_group(&self.identity, Signal::SIGKILL);
        }
    }
}

/// A port free right now on loopback.
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_process_that_never_binds_is_not_ready_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = Spec::new(
            "v1",
            dir.path(),
            "echo ready-says-apachectl; sleep 30",
            &dir.path().join("v1.log"),
        );
        spec.stop_timeout = Duration::from_secs(5);
        let process = Process::start(spec).await.unwrap();
        let error = process
            .wait_ready("/healthz", 1, Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(error.contains("never listened"), "{error}");
        let status = process.stop().await;
        assert!(status.contains("signal"), "{status}");
        assert!(process.log_tail(5).contains("ready-says-apachectl"));
    }

    #[tokio::test]
    async fn a_process_that_exits_fails_fast_with_its_status() {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec::new(
            "v1",
            dir.path(),
            "echo boom >&2; exit 3",
            &dir.path().join("v1.log"),
        );
        let process = Process::start(spec).await.unwrap();
        let error = process
            .wait_ready("/healthz", 1, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(error.contains("exited") && error.contains('3'), "{error}");
    }
}
