//! One simulated fleet host: a real OpenSSH `sshd` in its own mount
//! namespace ([`Namespace`]), listening on its own loopback address, with
//! its own host key. The stage's paths (`<tmp>/stage/{site,bin,run}`)
//! show, on this host, its own `<tmp>/hosts/<name>/{site,bin,run}`, so a
//! test reads and writes each host's files at [`Host::dir`].
//!
//! Fault helpers: [`Host::stop_sshd`] / [`Host::start_sshd`] (unreachable),
//! [`Host::cut_connections`] (a connection cut mid-operation),
//! [`Host::change_host_key`].

use super::app_processes::start_ticks;
use super::log_lines::LogLines;
use super::namespace::{children, kill_and_wait, read_pid, tree, Namespace};
use super::sshd_config::{keygen, sshd_config};
use super::tmpfs::Tmpfs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The directories every host has at the same stage path.
pub const STAGE_DIRS: [&str; 3] = ["site", "bin", "run"];

/// A running sshd and its log (`-e`: to stderr, drained on a thread).
struct Sshd {
    child: Child,
    log: LogLines,
}

/// One host. Dropping it kills every process on it, then unmounts its tmpfs.
pub struct Host {
    name: String,
    /// `<tmp>/hosts/<name>`: `site/`, `bin/`, `run/`, its sshd config and key.
    dir: PathBuf,
    addr: Ipv4Addr,
    ssh_port: u16,
    /// Where this host's app listens (`addr`, a port free at start).
    app_port: u16,
    /// `<tmp>/stage`, as every host sees it.
    stage: PathBuf,
    sshd: Mutex<Option<Sshd>>,
    /// Processes started by [`Host::spawn_in`], reaped on drop.
    spawned: Mutex<Vec<Child>>,
    /// Pid files (as the test sees them, e.g. under `dir`) whose processes
    /// are killed on drop.
    pid_files: Mutex<Vec<PathBuf>>,
    /// Before `tmpfs`: its processes go before its site is unmounted.
    namespace: Namespace,
    tmpfs: Option<Tmpfs>,
}

impl Host {
    /// Makes the host's directories (a tmpfs of `tmpfs_bytes` as its site if
    /// given), its host key and sshd config, its namespace; starts sshd.
    pub(crate) fn start(
        name: &str,
        root: &Path,
        addr: Ipv4Addr,
        authorized_keys: &Path,
        tmpfs_bytes: Option<u64>,
    ) -> Host {
        let dir = root.join("hosts").join(name);
        let stage = root.join("stage");
        for sub in STAGE_DIRS {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::create_dir_all(stage.join(sub)).unwrap();
        }
        let tmpfs = tmpfs_bytes.map(|bytes| {
            Tmpfs::mount(&dir.join("site"), &format!("size={bytes}"))
                .expect("mounting a tmpfs needs root")
        });
        let binds: Vec<_> = STAGE_DIRS
            .iter()
            .map(|sub| (dir.join(sub), stage.join(sub)))
            .collect();
        let ssh_port = free_port_on(addr);
        let host = Host {
            name: name.to_owned(),
            dir,
            addr,
            ssh_port,
            app_port: free_port_on(addr),
            stage,
            sshd: Mutex::new(None),
            spawned: Mutex::new(Vec::new()),
            pid_files: Mutex::new(Vec::new()),
            namespace: Namespace::create(&binds),
            tmpfs,
        };
        keygen(&host.host_key());
        std::fs::write(
            host.dir.join("sshd_config"),
            sshd_config(addr, ssh_port, &host.host_key(), authorized_keys),
        )
        .unwrap();
        host.start_sshd();
        host
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// This host's own files: `site/` is what it sees at the stage root.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its loopback address (`127.0.0.N`).
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn ssh_port(&self) -> u16 {
        self.ssh_port
    }

    /// Where its app listens: `127.0.0.N:PORT`, one port per host.
    pub fn app_addr(&self) -> SocketAddr {
        SocketAddr::from((self.addr, self.app_port))
    }

    /// `<tmp>/stage`, the same path on every host.
    pub fn stage(&self) -> &Path {
        &self.stage
    }

    /// `ssh_host_ed25519_key` (its `.pub` beside it).
    pub fn host_key(&self) -> PathBuf {
        self.dir.join("ssh_host_ed25519_key")
    }

    /// Starts sshd (again) and waits for its "Server listening on" line.
    pub fn start_sshd(&self) {
        let mut sshd = self.sshd.lock().unwrap();
        assert!(sshd.is_none(), "sshd of `{}` already runs", self.name);
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut child = self
            .namespace
            .command("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`/usr/sbin/sshd` runs (openssh-server)");
        let log = LogLines::follow(child.stderr.take().unwrap());
        if let Err(lines) = log.wait_for("Server listening on", Duration::from_secs(30)) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sshd of `{}` did not start:\n{lines}", self.name);
        }
        *sshd = Some(Sshd { child, log });
    }

    /// Stops sshd and its connections (the host becomes unreachable; what
    /// else runs on it, its app, keeps running).
    pub fn stop_sshd(&self) {
        if let Some(mut sshd) = self.sshd.lock().unwrap().take() {
            for pid in tree(sshd.child.id()) {
                if let Some(ticks) = start_ticks(pid) {
                    kill_and_wait(pid, ticks);
                }
            }
            let _ = sshd.child.wait();
        }
    }

    /// Kills the sshd processes serving this host's open connections (as a
    /// cut network would end them); the listener stays, so new connections
    /// work. The commands those sessions ran see EOF, as after a real cut.
    /// Returns how many connections were cut.
    pub fn cut_connections(&self) -> usize {
        let Some(listener) = self.sshd_pid() else {
            return 0;
        };
        let connections = children(listener);
        for connection in &connections {
            // Each connection is an sshd (monitor) with an sshd child that
            // holds the socket too: kill every sshd beneath the listener.
            for pid in tree(*connection) {
                let sshd = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim() == "sshd");
                if let (true, Some(ticks)) = (sshd, start_ticks(pid)) {
                    kill_and_wait(pid, ticks);
                }
            }
        }
        connections.len()
    }

    /// Replaces the host key and restarts sshd: clients that knew the old
    /// key must now refuse the host.
    pub fn change_host_key(&self) {
        self.stop_sshd();
        let key = self.host_key();
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(key.with_extension("pub"));
        keygen(&key);
        self.start_sshd();
    }

    /// The sshd listener's pid, while it runs.
    pub fn sshd_pid(&self) -> Option<u32> {
        self.sshd
            .lock()
            .unwrap()
            .as_ref()
            .map(|sshd| sshd.child.id())
    }

    /// What sshd logged so far (for failure messages).
    pub fn sshd_log(&self) -> String {
        let sshd = self.sshd.lock().unwrap();
        sshd.as_ref()
            .map(|sshd| sshd.log.text())
            .unwrap_or_default()
    }

    /// `known_hosts` line for this host's current key.
    pub fn known_hosts_line(&self) -> String {
        let public = std::fs::read_to_string(self.host_key().with_extension("pub")).unwrap();
        let mut fields = public.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        format!("[{}]:{} {kind} {key}\n", self.addr, self.ssh_port)
    }

    /// Runs `sh -c cmd` on this host (in its namespace) and waits.
    pub fn exec_in(&self, cmd: &str) -> Output {
        self.namespace
            .command("sh")
            .args(["-c", cmd])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Starts `sh -c cmd` on this host without waiting; it is killed on
    /// drop. Returns its pid.
    pub fn spawn_in(&self, cmd: &str) -> u32 {
        let child = self
            .namespace
            .command("sh")
            .args(["-c", cmd])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        self.spawned.lock().unwrap().push(child);
        pid
    }

    /// Kills, on drop, the process whose pid `path` (on the test's side,
    /// e.g. under [`Host::dir`]) holds then.
    pub fn kill_on_drop(&self, path: &Path) {
        self.pid_files.lock().unwrap().push(path.to_owned());
    }

    /// Every live process on this host (sshd, sessions, apps, the holder).
    pub fn pids(&self) -> Vec<u32> {
        self.namespace.pids()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for path in self.pid_files.get_mut().unwrap().iter() {
            if let Some((pid, ticks)) = read_pid(path).and_then(|p| Some((p, start_ticks(p)?))) {
                kill_and_wait(pid, ticks);
            }
        }
        self.stop_sshd();
        for child in self.spawned.get_mut().unwrap().iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Then `namespace` kills what is left on the host, and `tmpfs` unmounts.
    }
}

/// A port free on `addr` now (the kernel picks it).
pub fn free_port_on(addr: Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((addr, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
