//! What `/proc` says about a process: its `stat` line, its environment,
//! and which boot this is.
//!
//! Read as bytes: a process may give itself a `comm` that is not UTF-8,
//! and must not become invisible (and so unstoppable) for it.

use std::sync::OnceLock;

/// The fields of `/proc/PID/stat` the supervisor needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stat {
    /// `comm`: the executable's name, up to 15 bytes, as the process set it.
    pub(crate) command: String,
    /// Field 3: `R`, `S`, `Z` (a zombie: exited, not yet reaped), ...
    pub(crate) state: char,
    /// Field 4.
    pub(crate) parent: i32,
    /// Field 5: the process group.
    pub(crate) group: i32,
    /// Field 22: when it started, in clock ticks since boot. With the pid
    /// and the boot id it names one process for all time: a reused pid
    /// starts later.
    pub(crate) start_ticks: u64,
}

impl Stat {
    /// Exited but not reaped: holds its pid, but can no longer act.
    pub(crate) fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Parses `pid (comm) state ppid pgrp ... starttime ...`. `comm` may hold
/// spaces and parentheses, so it ends at the *last* `)`.
pub(crate) fn parse_stat(stat: &str) -> Option<Stat> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let command = stat.get(open + 1..close)?.to_owned();
    // Fields from 3 (state) on; starttime (22) is the 20th of them.
    let rest: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
    Some(Stat {
        command,
        state: rest.first()?.chars().next()?,
        parent: rest.get(1)?.parse().ok()?,
        group: rest.get(2)?.parse().ok()?,
        start_ticks: rest.get(19)?.trim_end().parse().ok()?,
    })
}

/// `/proc/PID/stat`, or `None` when no process has that pid.
pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let bytes = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&String::from_utf8_lossy(&bytes))
}

/// `SigCgt` and `SigIgn` of `/proc/PID/status`: the signals the process
/// catches and ignores, bit `n - 1` for signal `n`; `None` when it is gone.
pub(crate) fn signal_masks(pid: i32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mask = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name))?;
        u64::from_str_radix(line[name.len()..].trim(), 16).ok()
    };
    Some((mask("SigCgt:")?, mask("SigIgn:")?))
}

/// Whether `/proc/PID/environ` holds exactly `KEY=value`. An environment
/// that cannot be read (no permission, gone) does not hold it.
pub(crate) fn environ_has(pid: i32, key: &str, value: &str) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let wanted = format!("{key}={value}");
    environ
        .split(|byte| *byte == 0)
        .any(|entry| entry == wanted.as_bytes())
}

/// Every pid in `/proc` right now.
pub(crate) fn pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), read once: pids and
/// start times only name a process within one boot.
pub(crate) fn boot_id() -> &'static str {
    static BOOT_ID: OnceLock<String> = OnceLock::new();
    BOOT_ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|id| id.trim().to_owned())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line's shape: 52 fields, starttime 22nd.
    fn line(comm: &str, start: u64) -> String {
        format!("4242 ({comm}) S 4241 4240 4240 0 -1 4194560 107 0 0 0 0 0 0 0 20 0 1 0 {start} 2244608 227 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
    }

    #[test]
    fn stat_lines_with_odd_names_parse() {
        for comm in [
            "sh",
            "my app",
            "my (odd) app",
            ") S 1 1 1",
            "((",
            "x) 9 9 (y",
        ] {
            let stat = parse_stat(&line(comm, 987_654)).unwrap();
            assert_eq!(
                stat,
                Stat {
                    command: comm.to_owned(),
                    state: 'S',
                    parent: 4241,
                    group: 4240,
                    start_ticks: 987_654,
                },
                "{comm:?}"
            );
        }
    }

    #[test]
    fn truncated_or_garbled_stat_lines_are_refused() {
        let full = line("app", 5);
        // Cut anywhere before starttime ends: never a made-up start time.
        let before_start = full.find(" 5 2244608").unwrap() + 2;
        for cut in [0, 5, 10, 20, before_start - 1] {
            assert_eq!(parse_stat(&full[..cut]), None, "cut at {cut}");
        }
        assert_eq!(parse_stat(&full.replace(" 5 2244608", " x 2244608")), None);
    }

    #[test]
    fn our_own_stat_and_environment_read_back() {
        let me = std::process::id() as i32;
        let stat = stat(me).unwrap();
        assert!(stat.start_ticks > 0 && !stat.is_zombie(), "{stat:?}");
        let path = std::env::var("PATH").unwrap();
        assert!(environ_has(me, "PATH", &path));
        assert!(!environ_has(me, "PATH", "not-the-path"));
        assert_eq!(boot_id().len(), 36, "{}", boot_id());
    }
}
