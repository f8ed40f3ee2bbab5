//! The processes of one app's process group, read from `/proc`.
//!
//! The app runs as `sh -c COMMAND` in a group of its own. Debian's `sh`
//! (dash) does not exec the last command, so the group leader is usually
//! the shell and the app is its child: a signal meant for the app (a data
//! reload) must skip the shell, or the shell dies of it and the app is
//! orphaned. And a stop must reach members that outlived the leader.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// One process of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    pid: i32,
    parent: i32,
    command: String,
}

/// The live members of process group `group` (zombies excluded).
fn members(group: i32) -> Vec<Member> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&stat)
                .filter(|(_, _, pgrp, state)| *pgrp == group && *state != 'Z')
                .map(|(command, parent, _, _)| Member {
                    pid,
                    parent,
                    command,
                })
        })
        .collect()
}

/// `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses,
/// so it ends at the last `)`.
fn parse_stat(stat: &str) -> Option<(String, i32, i32, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let command = stat.get(open + 1..close)?.to_owned();
    let mut rest = stat.get(close + 2..)?.split(' ');
    let state = rest.next()?.chars().next()?;
    let parent = rest.next()?.parse().ok()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some((command, parent, pgrp, state))
}

fn is_shell(command: &str) -> bool {
    matches!(command, "sh" | "dash" | "bash")
}

/// Sends `signal` to the app in group `leader`: the shell's children when
/// the leader is the `sh -c` wrapper, else the leader itself. Returns how
/// many processes were signalled.
pub(crate) fn signal_app(leader: i32, signal: Signal) -> usize {
    let members = members(leader);
    let shell_leader = members
        .iter()
        .any(|member| member.pid == leader && is_shell(&member.command));
    let targets: Vec<i32> = if shell_leader {
        members
            .iter()
            .filter(|member| member.parent == leader)
            .map(|member| member.pid)
            .collect()
    } else {
        vec![leader]
    };
    targets
        .iter()
        .filter(|pid| nix::sys::signal::kill(Pid::from_raw(**pid), signal).is_ok())
        .count()
}

/// Whether any process of the group is still alive. While one is, its
/// group id cannot be reused, so signalling the group stays safe.
pub(crate) fn alive(group: i32) -> bool {
    !members(group).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let stat = "4242 (my (odd) app) S 4241 4241 4241 0 -1";
        assert_eq!(
            parse_stat(stat),
            Some(("my (odd) app".into(), 4241, 4241, 'S'))
        );
    }

    #[test]
    fn a_signal_for_the_app_skips_the_shell_wrapper() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30; true"])
            .process_group(0)
            .spawn()
            .unwrap();
        let leader = child.id() as i32;
        // The shell forks `sleep`; wait (bounded) until it shows up in the group.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while members(leader).len() < 2 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(signal_app(leader, Signal::SIGTERM), 1);
        // The shell survives the app's signal and exits normally after `sleep` died.
        let status = child.wait().unwrap();
        assert!(status.success(), "{status}");
        assert!(!alive(leader));
    }
}
