//! One release's process group: start, readiness, exit watching, stop.

use crate::health;
use crate::logs::Log;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
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
    pid: u32,
    log: Log,
    /// `Some(description)` once the process has exited.
    exit: watch::Receiver<Option<String>>,
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
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so stop reaches everything it forks.
            .process_group(0)
            .spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("process exited before it started"))?;
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
        tracing::info!(release = %spec.release, pid, port, "started");
        Ok(Process {
            spec,
            port,
            pid,
            log,
            exit,
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
        self.pid
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
        crate::group::signal_app(self.pid as i32, signal)
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
        let group = Pid::from_raw(self.pid as i32);
        if self.exited().is_none() {
            let _ = killpg(group, self.spec.stop_signal);
            if tokio::time::timeout(self.spec.stop_timeout, self.wait_exit())
                .await
                .is_err()
            {
                tracing::warn!(release = %self.spec.release, pid = self.pid, "did not stop in time; killing");
                let _ = killpg(group, Signal::SIGKILL);
            }
        } else if crate::group::alive(self.pid as i32) {
            // The shell is gone but the app it started is not: stop the rest of the group.
            let _ = killpg(group, self.spec.stop_signal);
        }
        // Members are not our children, so their exit is polled, within the stop timeout.
        let deadline = tokio::time::Instant::now() + self.spec.stop_timeout;
        while crate::group::alive(self.pid as i32) {
            if tokio::time::Instant::now() >= deadline {
                let _ = killpg(group, Signal::SIGKILL);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let status = self.wait_exit().await;
        tracing::info!(release = %self.spec.release, pid = self.pid, %status, "stopped");
        status
    }
}

impl Drop for Process {
    /// A process nobody holds any more must not outlive its owner (an early
    /// error, a panic): kill its group. Orderly shutdown calls `stop` first.
    fn drop(&mut self) {
        if self.exited().is_none() || crate::group::alive(self.pid as i32) {
            let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
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
