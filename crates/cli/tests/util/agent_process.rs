//! A real `hoist agent` process for tests, stopped (with its apps) on drop.

use super::{Env, BIN};
use std::io::BufRead;
use std::time::Duration;

/// A running `hoist agent`; killed on drop (its apps with it).
pub struct AgentProcess {
    child: std::process::Child,
    site: std::path::PathBuf,
    /// Set once the process was reaped, so drop does not signal a stale pid.
    done: bool,
}

impl AgentProcess {
    /// Starts the agent and waits for its "listening" line (its readiness signal).
    pub fn start(env: &Env) -> AgentProcess {
        AgentProcess::spawn(env, &["agent"])
    }

    /// Starts `hoist agent --upgrade` and waits until it serves.
    pub fn upgrade(env: &Env) -> AgentProcess {
        AgentProcess::spawn(env, &["agent", "--upgrade"])
    }

    pub fn spawn(env: &Env, args: &[&str]) -> AgentProcess {
        let mut command = std::process::Command::new(BIN);
        command.args(args).stderr(std::process::Stdio::null());
        AgentProcess::spawn_command(env, command, args)
    }

    /// Starts `hoist agent` on `listener`, handed over as systemd socket
    /// activation does (fd 3, `LISTEN_FDS=1`, `LISTEN_PID` the agent's own
    /// pid). The test keeps the socket open, as systemd does, so connections
    /// queue in its backlog while no agent runs (after a `kill -9`).
    pub fn start_on(env: &Env, listener: &std::net::TcpListener) -> AgentProcess {
        let socket = std::os::fd::OwnedFd::from(listener.try_clone().unwrap());
        let mut command = std::process::Command::new("sh");
        // The socket comes in as stdin (std puts it there in the child, so it
        // leaks into no other process), `sh` moves it to fd 3 and becomes the
        // agent, keeping its pid for `LISTEN_PID`.
        command
            .args([
                "-c",
                r#"export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" agent 3<&0 </dev/null"#,
                BIN,
            ])
            .stdin(std::process::Stdio::from(socket))
            .stderr(std::process::Stdio::null());
        AgentProcess::spawn_command(env, command, &["agent"])
    }

    /// Starts `hoist agent` with at most `limit` open files (util-linux
    /// `prlimit`, which sets the limit and then runs the agent in its place).
    pub fn start_with_open_file_limit(env: &Env, limit: u64) -> AgentProcess {
        let mut command = std::process::Command::new("prlimit");
        command
            .arg(format!("--nofile={limit}:{limit}"))
            .args([BIN, "agent"])
            .stderr(std::process::Stdio::null());
        AgentProcess::spawn_command(env, command, &["agent"])
    }

    /// Starts `command` (a `hoist agent`, whose stderr the caller has
    /// directed) in the source dir and waits for its "listening" line.
    pub fn spawn_command(
        env: &Env,
        mut command: std::process::Command,
        args: &[&str],
    ) -> AgentProcess {
        let mut child = command
            .current_dir(env.src())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.contains("listening on"),
            "`hoist {}` did not start: {line:?}",
            args.join(" ")
        );
        AgentProcess {
            child,
            site: env.site(),
            done: false,
        }
    }

    /// The agent's stderr, when the command that started it piped it.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// Waits for the agent to exit by itself (after handing over and draining).
    pub fn wait_exit(&mut self, within: Duration) -> bool {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let (done, exited) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(nix::sys::wait::waitpid(pid, None).is_ok());
        });
        let exited = exited.recv_timeout(within).unwrap_or(false);
        self.done |= exited;
        exited
    }

    /// The agent's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.done = true;
    }

    pub fn terminate(&mut self) {
        if !self.done {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.child.wait();
            self.done = true;
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.terminate();
        // Stop any app process a killed agent left behind: by its record,
        // and only while its pid still has the recorded start time.
        if let Ok(state) = std::fs::read_to_string(self.site.join("agent-state.json")) {
            let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
            for child in state["children"].as_array().into_iter().flatten() {
                let (Some(pid), Some(ticks)) =
                    (child["pid"].as_u64(), child["start_ticks"].as_u64())
                else {
                    continue;
                };
                if super::app_processes::runs(pid as u32, ticks) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A hoist.toml for an agent running the example app on `port`; `extra`
/// is appended (more sections).
pub fn agent_config(port: u16, extra: &str) -> String {
    agent_config_with(port, "", extra)
}

/// [`agent_config`] with `process` lines (`key = value`) in `[process]`,
/// each replacing the default for its key or added to them.
pub fn agent_config_with(port: u16, process: &str, extra: &str) -> String {
    let mut keys: Vec<(String, String)> = [
        ("command", format!("\"{BIN} example-app\"")),
        ("health_timeout", "\"5s\"".to_owned()),
        ("drain_timeout", "\"5s\"".to_owned()),
        ("stop_timeout", "\"5s\"".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    for (key, value) in process.lines().filter_map(|line| line.split_once('=')) {
        let (key, value) = (key.trim().to_owned(), value.trim().to_owned());
        match keys.iter_mut().find(|(known, _)| *known == key) {
            Some(slot) => slot.1 = value,
            None => keys.push((key, value)),
        }
    }
    let process: String = keys
        .iter()
        .map(|(key, value)| format!("{key} = {value}\n"))
        .collect();
    format!(
        r#"
[app]
name = "shop"
version = "1"
[deploy]
root = "../site"
keep_releases = 10
[process]
{process}[proxy]
listen = "127.0.0.1:{port}"
{extra}
"#
    )
}
