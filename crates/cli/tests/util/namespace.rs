//! A private mount namespace standing for one simulated host: the same
//! paths show each host its own directories, as separate machines would.
//!
//! A holder process (`unshare --mount --propagation private`, then
//! `mount --bind` for each pair, then `cat` on a pipe the test keeps)
//! keeps the namespace alive; every process of the host is started in it
//! with `nsenter --target <holder> --mount`. Whatever runs in it when it
//! is dropped (sshd, its sessions, daemonized apps) is killed, found by
//! the namespace link in `/proc/PID/ns/mnt`, so nothing a test started
//! on a host outlives the test. Network and pids are shared with the
//! test: each host listens on its own loopback address instead.

use super::app_processes::{start_ticks, wait_gone};
use super::log_lines::LogLines;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mount namespace kept alive by its holder; every process in it is
/// killed on drop.
pub struct Namespace {
    holder: Child,
    /// `/proc/PID/ns/mnt` of the holder (`mnt:[4026532…]`): what marks a
    /// process as running on this host.
    id: String,
}

impl Namespace {
    /// Creates the namespace with `binds` (`source` over `target`) done,
    /// waiting for the holder's "ready" line (printed after the mounts).
    pub fn create(binds: &[(PathBuf, PathBuf)]) -> Namespace {
        let mut script = String::new();
        let mut args = Vec::new();
        for (index, (source, target)) in binds.iter().enumerate() {
            script.push_str(&format!(
                "mount --bind \"${}\" \"${}\" && ",
                2 * index + 1,
                2 * index + 2
            ));
            args.push(source.clone());
            args.push(target.clone());
        }
        script.push_str("echo ready && exec cat >/dev/null");
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(&script)
            .arg("sh")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`unshare` runs (util-linux)");
        let out = LogLines::follow(holder.stdout.take().unwrap());
        let err = LogLines::follow(holder.stderr.take().unwrap());
        if let Err(lines) = out.wait_for("ready", Duration::from_secs(30)) {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!(
                "the host namespace did not come up: {lines}\n{}",
                err.text()
            );
        }
        let id = std::fs::read_link(format!("/proc/{}/ns/mnt", holder.id()))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        Namespace { holder, id }
    }

    /// A command that runs `program` in this namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        // nsenter execs `program` (it forks only to enter a pid namespace),
        // so the child's pid is the program's.
        command
            .arg("--target")
            .arg(self.holder.id().to_string())
            .args(["--mount", "--"])
            .arg(program);
        command
    }

    /// The live processes in this namespace (the holder among them).
    pub fn pids(&self) -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                    .is_ok_and(|link| link.as_os_str() == self.id.as_str())
                    && start_ticks(*pid).is_some()
            })
            .collect()
    }
}

/// SIGKILLs `pid` if it still is the process that started at `ticks`, and
/// waits (bounded) until it is gone or a zombie.
pub fn kill_and_wait(pid: u32, ticks: u64) {
    if start_ticks(pid) != Some(ticks) {
        return;
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    wait_gone(pid, ticks, Duration::from_secs(5));
}

/// The live children of `pid` (`/proc/*/stat` field 4).
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| parent(*child) == Some(pid) && start_ticks(*child).is_some())
        .collect()
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 2..)?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// `pid` and all its live descendants, parents first.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut index = 0;
    while index < all.len() {
        all.extend(children(all[index]));
        index += 1;
    }
    all
}

/// Reads a pid file (as written through the host's own directory).
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Killing may let a manager fork once more: repeat until none is left.
        // The holder goes last: while it lives the namespace (and its id)
        // does, so the scan can never match a new namespace that reused
        // the id, another test's, and kill its processes.
        let holder = self.holder.id();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pids: Vec<u32> = self
                .pids()
                .into_iter()
                .filter(|pid| *pid != holder)
                .collect();
            if pids.is_empty() || Instant::now() >= deadline {
                break;
            }
            for pid in pids {
                if let Some(ticks) = start_ticks(pid) {
                    kill_and_wait(pid, ticks);
                }
            }
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
