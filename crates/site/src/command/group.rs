//! A hook in a process group of its own, held to one deadline that covers
//! the whole group and its output, and never outliving hoist.
//!
//! ```text
//!  hoist ──spawn──▶ sh -c 'trap "kill -KILL 0" TERM; sh -c "$1" & wait $!'   group leader,
//!                        │                                PR_SET_PDEATHSIG = SIGTERM
//!                        └──▶ sh -c HOOK ──▶ its children (same group)
//!  stdout + stderr: one pipe, read by hoist with poll(2) beside a pidfd of the leader
//! ```
//!
//! - The deadline (the hook's `timeout`) ends the wait whatever holds it:
//!   the leader still running (timed out), or a member that still holds
//!   the output after the leader exited (a background child that was not
//!   redirected). Either way the group gets SIGKILL and hoist stops
//!   reading; the members found holding the output are named.
//! - The leader is reaped only after the group was killed, so its pid,
//!   and so the group id, is never reused before `killpg`.
//! - If hoist dies (`kill -9`), the kernel sends the leader SIGTERM, whose
//!   trap kills the group. A `wait` is interrupted by a trapped signal,
//!   which a foreground command would not be: hence `&` and `wait`. The
//!   price: as for any `&` in a shell without job control, the hook starts
//!   with SIGINT and SIGQUIT ignored (no terminal reaches its group anyway),
//!   and a hook killed by a signal ends as `exit status: 128+N`.

use std::io::{self, Read};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The wrapper; the hook is `$1`.
const WRAPPER: &str = "trap 'kill -KILL 0' TERM; sh -c \"$1\" & wait $!";

/// How a bounded command ended.
pub(crate) struct Ended {
    pub(crate) status: ExitStatus,
    pub(crate) output: Vec<u8>,
    pub(crate) timed_out: bool,
    pub(crate) left_running: Vec<String>,
}

/// Runs `hook` (a shell command) as described above; `started` is told
/// the group id as soon as it exists (for the journal).
pub(crate) fn run(
    mut command: Command,
    hook: &str,
    timeout: Duration,
    started: &mut dyn FnMut(u32),
) -> io::Result<Ended> {
    let (reader, writer) = io::pipe()?;
    command
        .arg("-c")
        .arg(WRAPPER)
        .arg("hoist-hook")
        .arg(hook)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    die_with_hoist(&mut command);
    let child = command.spawn()?;
    // Our copies of the write end go, so the pipe ends with the group's.
    drop(command);
    started(child.id());
    wait(child, reader, Instant::now() + timeout)
}

/// The leader gets SIGTERM when the thread that spawned it (hoist) dies.
fn die_with_hoist(command: &mut Command) {
    let hoist = nix::unistd::getpid();
    // SAFETY: runs in the forked child before exec, where only
    // async-signal-safe calls are allowed: `prctl` and `getppid` are
    // plain system calls, and nothing here allocates or takes a lock.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)?;
            // hoist died before the prctl: no signal will come.
            if nix::unistd::getppid() != hoist {
                return Err(nix::errno::Errno::ESRCH.into());
            }
            Ok(())
        });
    }
}

/// Reads the output until the leader exited and the output closed, or
/// the deadline; then kills what is left and reaps the leader.
fn wait(mut child: Child, mut reader: io::PipeReader, deadline: Instant) -> io::Result<Ended> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let leader = rustix::process::pidfd_open(
        rustix::process::Pid::from_child(&child),
        rustix::process::PidfdFlags::empty(),
    )?;
    let mut output = Vec::new();
    let (mut exited, mut closed) = (false, false);
    while !(exited && closed) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let left = Timespec::try_from(left).map_err(io::Error::other)?;
        let mut fds = Vec::with_capacity(2);
        if !closed {
            fds.push(PollFd::new(&reader, PollFlags::IN));
        }
        if !exited {
            fds.push(PollFd::new(&leader, PollFlags::IN));
        }
        match poll(&mut fds, Some(&left)) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds.iter().map(|fd| !fd.revents().is_empty()).collect();
        drop(fds);
        let leader_ready = match closed {
            false => {
                if ready[0] {
                    closed = read_some(&mut reader, &mut output)?;
                }
                ready.get(1).copied().unwrap_or(false)
            }
            true => ready[0],
        };
        exited |= leader_ready;
    }
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    // Named before they die: what kept the output open after the leader exited.
    let left_running = match exited && !closed {
        true => holders(group.as_raw()),
        false => Vec::new(),
    };
    if !(exited && closed) {
        // The leader is not reaped yet: the group id is still ours.
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
    Ok(Ended {
        status: child.wait()?,
        output,
        timed_out: !exited,
        left_running,
    })
}

/// Reads what is there into `output` (its last `KEEP_BYTES`); true at the end.
fn read_some(reader: &mut io::PipeReader, output: &mut Vec<u8>) -> io::Result<bool> {
    let mut buffer = [0u8; 8192];
    let read = match reader.read(&mut buffer) {
        Err(error) if error.kind() == io::ErrorKind::Interrupted => return Ok(false),
        other => other?,
    };
    super::keep(output, &buffer[..read]);
    Ok(read == 0)
}

/// The group's members other than its (exited) leader: `` `sleep` (pid 12) ``.
fn holders(group: i32) -> Vec<String> {
    let Ok(processes) = procfs::process::all_processes() else {
        return Vec::new();
    };
    processes
        .flatten()
        .filter_map(|process| process.stat().ok())
        .filter(|stat| stat.pgrp == group && stat.pid != group)
        .map(|stat| format!("`{}` (pid {})", super::inert(&stat.comm), stat.pid))
        .collect()
}
