//! The one place that signals a child's process group, and only after
//! checking that each target is still ours.
//!
//! The app runs as `sh -c COMMAND` in a group of its own. Debian's `sh`
//! (dash) does not exec the last command, so the group leader is usually
//! the shell and the app is its child: a signal meant for the app (a data
//! reload) must skip the shell, or the shell dies of it and the app is
//! orphaned. And a stop must reach members that outlived the leader.
//!
//! A member of group `G` is ours when
//! - it is the leader: pid `G` with the recorded start time, this boot; or
//! - it carries the child's token in its environment (`HOIST_CHILD`); or
//! - the verified leader is still alive after the member was read: while
//!   it lives, nobody else can own group `G`.
//!
//! Each target is opened as a pidfd *before* it is checked, and signalled
//! through that pidfd: if it died meanwhile and its pid went to a stranger,
//! the signal fails rather than reaching the stranger. Anything that fails
//! the check is left alone and logged.

use crate::identity::Identity;
use crate::procfs::{self, Stat};
use nix::sys::signal::Signal;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{pidfd_open, pidfd_send_signal, PidfdFlags};
use std::os::fd::OwnedFd;

/// A process that passed the check.
#[derive(Debug)]
struct Verified {
    pid: i32,
    stat: Stat,
    handle: Handle,
}

/// How a verified process is reached.
#[derive(Debug)]
enum Handle {
    /// The process itself, whatever happens to its pid.
    Pidfd(OwnedFd),
    /// Kernels before 5.3 have no pidfd: signalled by pid right after the check.
    Pid,
}

/// What a look at the group found.
#[derive(Debug, Default)]
struct Scan {
    ours: Vec<Verified>,
    /// Members of the group that failed the check: `(pid, comm)`.
    strangers: Vec<(i32, String)>,
}

/// Opens `pid` as a pidfd; `None` when it is gone.
fn open(pid: i32) -> Option<Handle> {
    let raw = rustix::process::Pid::from_raw(pid)?;
    match pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => Some(Handle::Pidfd(fd)),
        Err(rustix::io::Errno::SRCH) => None,
        Err(_) => Some(Handle::Pid),
    }
}

impl Handle {
    /// Whether the process it names has exited (its pid may be anyone's now).
    fn exited(&self, pid: i32, identity: &Identity) -> bool {
        match self {
            // A pidfd polls readable once its process has exited.
            Handle::Pidfd(fd) => {
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
                let now = Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                rustix::event::poll(&mut fds, Some(&now)).map_or(true, |ready| ready > 0)
            }
            Handle::Pid => !procfs::stat(pid)
                .is_some_and(|stat| identity.is_leader(&stat) && !stat.is_zombie()),
        }
    }
}

impl Verified {
    fn send(&self, signal: Signal) -> bool {
        match &self.handle {
            Handle::Pidfd(fd) => rustix::process::Signal::from_named_raw(signal as i32)
                .is_some_and(|signal| pidfd_send_signal(fd, signal).is_ok()),
            Handle::Pid => {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), signal).is_ok()
            }
        }
    }
}

/// Finds the live processes of `identity`'s group and sorts them into ours
/// and strangers.
fn scan(identity: &Identity) -> Scan {
    let group = identity.group();
    // Never group 0 (our own), init, or this process itself.
    if !identity.this_boot() || group <= 1 || group == std::process::id() as i32 {
        return Scan::default();
    }
    let in_group = |stat: &Stat| stat.group == group && !stat.is_zombie();
    let leader = open(group).filter(|_| {
        procfs::stat(group).is_some_and(|stat| in_group(&stat) && identity.is_leader(&stat))
    });
    let mut scan = Scan::default();
    for pid in procfs::pids() {
        if !procfs::stat(pid).is_some_and(|stat| in_group(&stat)) {
            continue;
        }
        let Some(handle) = open(pid) else { continue };
        // Read again now that the pidfd pins the process: if it is still
        // alive when signalled, this is its stat.
        let Some(stat) = procfs::stat(pid).filter(in_group) else {
            continue;
        };
        let ours = if pid == group {
            identity.is_leader(&stat)
        } else {
            identity.marks(pid)
                || leader
                    .as_ref()
                    .is_some_and(|leader| !leader.exited(group, identity))
        };
        if ours {
            scan.ours.push(Verified { pid, stat, handle });
        } else {
            scan.strangers.push((pid, stat.command));
        }
    }
    scan
}

/// Logs the processes that failed the check, which are never signalled.
fn log_strangers(identity: &Identity, scan: &Scan, signal: Signal) {
    if !identity.this_boot() {
        tracing::warn!(
            pid = identity.pid,
            signal = signal.as_str(),
            "recorded during another boot: nothing of it runs; left alone"
        );
        return;
    }
    // A reused pid outside the group is not even a candidate, but say so.
    let group = identity.group();
    if let Some(stat) = procfs::stat(group).filter(|stat| !identity.is_leader(stat)) {
        if !scan.strangers.iter().any(|(pid, _)| *pid == group) {
            tracing::warn!(
                pid = group,
                command = stat.command.as_str(),
                signal = signal.as_str(),
                "the pid now belongs to another process (its start time differs); left alone"
            );
        }
    }
    for (pid, command) in &scan.strangers {
        tracing::warn!(
            pid,
            command = command.as_str(),
            group = identity.pid,
            signal = signal.as_str(),
            "not our child (its start time or `HOIST_CHILD` differs); left alone"
        );
    }
}

/// Sends `signal` to every verified process of the group; returns how many got it.
pub(crate) fn signal_group(identity: &Identity, signal: Signal) -> usize {
    let scan = scan(identity);
    log_strangers(identity, &scan, signal);
    scan.ours
        .iter()
        .filter(|target| target.send(signal))
        .count()
}

fn is_shell(command: &str) -> bool {
    matches!(command, "sh" | "dash" | "bash")
}

/// Sends `signal` to the app in the group: the shell's children when the
/// leader is the `sh -c` wrapper, the leader itself when it is the app,
/// and, once the leader is gone, the verified members whose parent is not
/// one of them. Returns how many processes were signalled.
pub(crate) fn signal_app(identity: &Identity, signal: Signal) -> usize {
    let scan = scan(identity);
    log_strangers(identity, &scan, signal);
    app_targets(identity, &scan)
        .into_iter()
        .filter(|target| target.send(signal))
        .count()
}

/// What [`signal_app`] would do to each process it would signal, by what
/// `/proc` says the process does with `signal`: `(pid, command, what)`.
pub(crate) fn app_dispositions(
    identity: &Identity,
    signal: Signal,
) -> Vec<(i32, String, Disposition)> {
    let scan = scan(identity);
    let bit = 1u64 << (signal as i32 - 1);
    app_targets(identity, &scan)
        .into_iter()
        .filter_map(|target| {
            let (caught, ignored) = crate::procfs::signal_masks(target.pid)?;
            let what = if caught & bit != 0 {
                Disposition::Caught
            } else if ignored & bit != 0 || ignored_by_default(signal) {
                Disposition::Ignored
            } else {
                Disposition::Fatal
            };
            Some((target.pid, target.stat.command.clone(), what))
        })
        .collect()
}

/// What a process does with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// It has a handler: it acts on the signal.
    Caught,
    /// It ignores it (by choice or by default): nothing happens.
    Ignored,
    /// Its default action ends (or stops) the process.
    Fatal,
}

/// Signals whose default action is to do nothing.
fn ignored_by_default(signal: Signal) -> bool {
    matches!(
        signal,
        Signal::SIGCHLD | Signal::SIGURG | Signal::SIGWINCH | Signal::SIGCONT
    )
}

/// The processes [`signal_app`] signals.
fn app_targets<'a>(identity: &Identity, scan: &'a Scan) -> Vec<&'a Verified> {
    let group = identity.group();
    let leader = scan.ours.iter().find(|target| target.pid == group);
    match leader {
        Some(leader) if is_shell(&leader.stat.command) => scan
            .ours
            .iter()
            .filter(|target| target.stat.parent == group)
            .collect(),
        Some(leader) => vec![leader],
        None => scan
            .ours
            .iter()
            .filter(|target| {
                !scan
                    .ours
                    .iter()
                    .any(|other| other.pid == target.stat.parent)
            })
            .collect(),
    }
}

/// Whether any verified process of the group is still alive.
pub(crate) fn alive(identity: &Identity) -> bool {
    !scan(identity).ours.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    /// Starts `sh -c script` in its own group with a fresh token, as the supervisor does.
    fn spawn(script: &str) -> (std::process::Child, Identity) {
        let token = crate::identity::new_token();
        let child = std::process::Command::new("sh")
            .args(["-c", script])
            .env(crate::identity::MARKER, &token)
            .process_group(0)
            .spawn()
            .unwrap();
        let identity = Identity::of_child(child.id(), token).unwrap();
        (child, identity)
    }

    /// Waits (bounded) until the group has `count` processes.
    fn wait_members(identity: &Identity, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while scan(identity).ours.len() < count {
            assert!(
                Instant::now() < deadline,
                "the group never had {count} members"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_signal_for_the_app_skips_the_shell_wrapper() {
        let (mut child, identity) = spawn("sleep 30; true");
        wait_members(&identity, 2);
        assert_eq!(signal_app(&identity, Signal::SIGTERM), 1);
        // The shell survives the app's signal and exits normally after `sleep` died.
        let status = child.wait().unwrap();
        assert!(status.success(), "{status}");
        assert!(!alive(&identity));
    }

    #[test]
    fn a_pid_with_another_start_time_is_never_signalled() {
        let (mut child, identity) = spawn("sleep 30");
        wait_members(&identity, 1);
        // The same pid, as a record from before it was reused would have it.
        for stale in [
            Identity {
                start_ticks: identity.start_ticks - 1,
                token: "someone-else".into(),
                ..identity.clone()
            },
            Identity {
                boot_id: "00000000-0000-0000-0000-000000000000".into(),
                ..identity.clone()
            },
        ] {
            assert!(!alive(&stale), "{stale:?}");
            assert_eq!(signal_group(&stale, Signal::SIGKILL), 0);
            assert_eq!(signal_app(&stale, Signal::SIGKILL), 0);
        }
        assert_eq!(child.try_wait().unwrap(), None, "a stranger was killed");
        assert!(signal_group(&identity, Signal::SIGKILL) >= 1);
        child.wait().unwrap();
    }

    #[test]
    fn a_reaped_child_is_gone_even_if_its_pid_is_taken() {
        let (mut child, identity) = spawn("true");
        child.wait().unwrap();
        assert!(!alive(&identity));
        assert_eq!(signal_group(&identity, Signal::SIGKILL), 0);
        // Whatever runs now: a pid written down by an older hoist, or ourselves.
        for pid in [std::process::id(), 1, 0] {
            let stranger = Identity {
                pid,
                ..identity.clone()
            };
            assert_eq!(signal_group(&stranger, Signal::SIGKILL), 0, "{pid}");
        }
    }

    #[test]
    fn members_that_outlive_the_leader_are_found_by_their_token() {
        // The wrapper exits at once; its background `sleep` stays in the group.
        let (mut child, identity) = spawn("sleep 30 & exit 0");
        child.wait().unwrap();
        wait_members(&identity, 1);
        let stranger = Identity {
            token: "other-token".into(),
            ..identity.clone()
        };
        assert!(!alive(&stranger), "no token, no leader: not ours");
        assert_eq!(signal_app(&identity, Signal::SIGKILL), 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(&identity) {
            assert!(Instant::now() < deadline, "the orphaned sleep survived");
            std::thread::yield_now();
        }
    }
}
