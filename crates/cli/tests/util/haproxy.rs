//! A real HAProxy (Debian `haproxy`) in front of fleet hosts, driven
//! through its runtime API as hoist drives it: `set server B/S state
//! drain|ready`, `show stat`. One process in the foreground (`-db`), so
//! its pid is the child's; killed on drop.

use super::log_lines::LogLines;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running haproxy: an http frontend on 127.0.0.1 and one backend.
pub struct Haproxy {
    child: Child,
    /// Its alerts and warnings (`-db` sends them to stderr), for failures.
    log: LogLines,
    frontend: SocketAddr,
    dir: tempfile::TempDir,
}

impl Haproxy {
    /// Starts haproxy with backend `backend` holding `servers` (name,
    /// address), each health-checked (`GET /` every 100 ms), and waits
    /// until its admin socket answers `show info`.
    pub fn start(backend: &str, servers: &[(&str, SocketAddr)]) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let frontend = SocketAddr::from(([127, 0, 0, 1], super::agent_process::free_port()));
        let config = dir.path().join("haproxy.cfg");
        std::fs::write(&config, config_text(dir.path(), frontend, backend, servers)).unwrap();
        let mut child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`haproxy` runs (Debian haproxy)");
        let log = LogLines::follow(child.stderr.take().unwrap());
        let haproxy = Haproxy {
            child,
            log,
            frontend,
            dir,
        };
        // No line says "ready": poll the socket (bounded). It binds the
        // frontend before it opens the admin socket.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !haproxy.try_cmd("show info").contains("Name: HAProxy") {
            assert!(
                Instant::now() < deadline,
                "haproxy did not start:\n{}",
                haproxy.log.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        haproxy
    }

    /// Where clients connect.
    pub fn frontend_addr(&self) -> SocketAddr {
        self.frontend
    }

    /// The admin socket (`level admin`): the balancer's `socket`.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("admin.sock")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one runtime API command and returns the answer.
    pub fn cmd(&self, command: &str) -> String {
        let mut stream = UnixStream::connect(self.socket_path()).unwrap();
        stream.write_all(format!("{command}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    fn try_cmd(&self, command: &str) -> String {
        if UnixStream::connect(self.socket_path()).is_err() {
            return String::new();
        }
        self.cmd(command)
    }

    /// `show stat`'s row for `backend/server`, by column name (`status`,
    /// `scur`, `stot`, …); panics if there is none.
    pub fn stat(&self, backend: &str, server: &str) -> BTreeMap<String, String> {
        let table = self.cmd("show stat");
        let mut lines = table.lines();
        let header = lines.next().unwrap_or_default();
        let columns: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .find(|row| row.first() == Some(&backend) && row.get(1) == Some(&server))
            .map(|row| {
                columns
                    .iter()
                    .zip(row)
                    .map(|(column, value)| (column.to_string(), value.to_owned()))
                    .collect()
            })
            .unwrap_or_else(|| panic!("no `{backend}/{server}` in `show stat`:\n{table}"))
    }

    /// Waits (bounded: health checks run every 100 ms) until the `status`
    /// of `backend/server` starts with `status` (`UP`, `DOWN`, `DRAIN`).
    pub fn wait_status(&self, backend: &str, server: &str, status: &str) {
        self.wait_stat(backend, server, "status", |now| now.starts_with(status));
    }

    /// Waits (bounded) until `field` of `backend/server` in `show stat`
    /// satisfies `done` (e.g. `scur` is `"0"`: its sessions drained).
    pub fn wait_stat(&self, backend: &str, server: &str, field: &str, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.stat(backend, server)[field].clone();
            if done(&now) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{field}` of `{backend}/{server}` stayed `{now}`:\n{}",
                self.log.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_text(
    dir: &std::path::Path,
    frontend: SocketAddr,
    backend: &str,
    servers: &[(&str, SocketAddr)],
) -> String {
    let servers: String = servers
        .iter()
        .map(|(name, addr)| format!("    server {name} {addr} check inter 100ms\n"))
        .collect();
    format!(
        "global
    stats socket {socket} mode 600 level admin
    nbthread 1
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend main
    bind {frontend}
    default_backend {backend}
backend {backend}
    balance roundrobin
    option httpchk GET /
{servers}",
        socket = dir.join("admin.sock").display()
    )
}
