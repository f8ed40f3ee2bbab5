//! A real HAProxy (the Debian package's `haproxy`), run in the foreground
//! (`-db`) from a config generated in a temp dir: an http frontend on a
//! free 127.0.0.1 port and backend `shop` with one server per app, plus the
//! runtime API socket the tests drive. Stopped by pid when dropped.

use super::app::{App, BOUND};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub struct LoadBalancer {
    /// The frontend's port on 127.0.0.1.
    pub port: u16,
    /// The runtime API socket.
    pub socket: PathBuf,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LoadBalancer {
    /// HAProxy with an admin-level socket in front of `apps`.
    pub fn start(apps: &[&App]) -> LoadBalancer {
        LoadBalancer::start_at_level(apps, "admin")
    }

    /// HAProxy whose socket is at `level` (`admin`, `operator`, `user`).
    pub fn start_at_level(apps: &[&App], level: &str) -> LoadBalancer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("admin.sock");
        let log = dir.path().join("haproxy.log");
        let port = free_port();
        let servers: String = apps
            .iter()
            .map(|app| format!("    server {} {}\n", app.name, app.addr))
            .collect();
        // `retries 0`: a refused connection is a 503 at once, not after
        // HAProxy's one-second pauses between retries.
        let config = format!(
            "global\n    maxconn 200\n    stats socket {} mode 600 level {level}\n\
             defaults\n    mode http\n    retries 0\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
             frontend fe\n    bind 127.0.0.1:{port}\n    default_backend shop\n\
             backend shop\n    balance roundrobin\n{servers}",
            socket.display()
        );
        let config_path = dir.path().join("haproxy.cfg");
        std::fs::write(&config_path, config).unwrap();
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("start haproxy (Debian package `haproxy`; scripts/test installs it)");
        let mut lb = LoadBalancer {
            port,
            socket,
            child,
            log,
            _dir: dir,
        };
        lb.wait_ready();
        lb
    }

    /// Ready when the runtime API socket accepts a connection: HAProxy
    /// binds every listener before it serves any.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + BOUND;
        while UnixStream::connect(&self.socket).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("haproxy exited with {status}: {}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "haproxy never opened its socket: {}",
                self.output()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for LoadBalancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
