//! Simulated fleet hosts for stage tests (issue 15): one real `sshd` per
//! host ([`Host`]), each on its own `127.0.0.N` and in its own mount
//! namespace, and one client `ssh -F` config naming them all, with a key
//! and `known_hosts` the harness wrote. Everything stops on drop.
//!
//! ```ignore
//! let fleet = FleetHosts::start(&["web1", "web2"], FleetOptions::default());
//! std::fs::write(fleet.host("web2").dir().join("site/marker"), "web2\n")?;
//! // `root` of the stage: fleet.stage_root(); its `ssh_config`: fleet.ssh_config()
//! let out = fleet.ssh("web2", &format!("cat {}/marker", fleet.stage_root().display()));
//! ```

pub use super::fleet_host::Host;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// What differs from plain hosts.
#[derive(Default)]
pub struct FleetOptions {
    /// Hosts whose site is a tmpfs of that many bytes (a disk that fills).
    tmpfs_sites: Vec<(String, u64)>,
}

impl FleetOptions {
    /// Gives `host` a tmpfs of `bytes` as its site.
    pub fn tmpfs_site(mut self, host: &str, bytes: u64) -> FleetOptions {
        self.tmpfs_sites.push((host.to_owned(), bytes));
        self
    }
}

/// The hosts, the client key and config. Hosts stop before the temp dir goes.
pub struct FleetHosts {
    hosts: Vec<Host>,
    dir: tempfile::TempDir,
}

impl FleetHosts {
    /// Starts one host per name (in parallel would save little: each
    /// start is a keygen and an sshd) and writes the client config.
    pub fn start(names: &[&str], options: FleetOptions) -> FleetHosts {
        let dir = tempfile::tempdir().unwrap();
        let client_key = dir.path().join("client_key");
        super::sshd_config::keygen(&client_key);
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized).unwrap();
        let hosts = names
            .iter()
            .map(|name| {
                let tmpfs = options
                    .tmpfs_sites
                    .iter()
                    .find(|(host, _)| host == name)
                    .map(|(_, bytes)| *bytes);
                Host::start(name, dir.path(), next_addr(), &authorized, tmpfs)
            })
            .collect();
        let fleet = FleetHosts { hosts, dir };
        fleet.trust_current_keys();
        std::fs::write(fleet.ssh_config(), fleet.client_config()).unwrap();
        fleet
    }

    /// The client config (`ssh -F`): put it in the stage's `ssh_config`.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// The `known_hosts` the client config names.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The stage's `root`: each host sees its own `site/` there.
    pub fn stage_root(&self) -> PathBuf {
        self.dir.path().join("stage/site")
    }

    /// Where each host keeps its `hoist` binary (its own `bin/`).
    pub fn stage_bin(&self) -> PathBuf {
        self.dir.path().join("stage/bin")
    }

    /// Where each host's app keeps its pid file (its own `run/`).
    pub fn stage_run(&self) -> PathBuf {
        self.dir.path().join("stage/run")
    }

    /// The temp dir everything lives in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The host named `name`; panics if there is none.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|host| host.name() == name)
            .unwrap_or_else(|| panic!("no host `{name}`"))
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// `ssh -F <config> <name> <cmd>`, as hoist's transport would run it.
    pub fn ssh(&self, name: &str, cmd: &str) -> Output {
        self.ssh_command(name, cmd).output().unwrap()
    }

    /// The `ssh` command for [`FleetHosts::ssh`], to spawn it instead.
    pub fn ssh_command(&self, name: &str, cmd: &str) -> Command {
        let mut command = Command::new("ssh");
        command
            .arg("-F")
            .arg(self.ssh_config())
            .args([name, cmd])
            .stdin(Stdio::null());
        command
    }

    /// Puts the test's `hoist` at `<stage_bin>/hoist` on every host, as a
    /// symlink (a debug build is ~200 MB; one copy serves every host).
    pub fn install_hoist(&self) {
        for host in &self.hosts {
            let link = host.dir().join("bin/hoist");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(super::BIN, link).unwrap();
        }
    }

    /// Writes `known_hosts` with every host's current key (after
    /// [`Host::change_host_key`], to trust the new one).
    pub fn trust_current_keys(&self) {
        let lines: String = self.hosts.iter().map(Host::known_hosts_line).collect();
        std::fs::write(self.known_hosts(), lines).unwrap();
    }

    fn client_config(&self) -> String {
        let key = self.dir.path().join("client_key");
        self.hosts
            .iter()
            .map(|host| {
                format!(
                    "Host {name}
  HostName {addr}
  Port {port}
  User root
  IdentityFile {key}
  IdentitiesOnly yes
  UserKnownHostsFile {known}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  BatchMode yes
  ConnectTimeout 10
  LogLevel ERROR
",
                    name = host.name(),
                    addr = host.addr(),
                    port = host.ssh_port(),
                    key = key.display(),
                    known = self.known_hosts().display(),
                )
            })
            .collect()
    }
}

/// A `127.0.0.N` (N in 2..=254) not yet used by this process: tests in
/// parallel get different addresses. Other processes may pick the same
/// N; their ports differ (each is bound on that address, free when picked).
fn next_addr() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    let n = 2 + (std::process::id().wrapping_mul(17).wrapping_add(count)) % 253;
    Ipv4Addr::new(127, 0, 0, n as u8)
}
