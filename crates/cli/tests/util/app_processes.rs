//! A site's app processes as `/proc` shows them, for tests that must find
//! what an agent left running, and stop only that.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// `/proc/PID/stat` field 22 (start time, clock ticks since boot), or
/// `None` when the pid is gone or a zombie. `comm` ends at the last `)`.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let stat = String::from_utf8_lossy(&stat);
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Whether the process that started at `ticks` still runs as `pid`.
pub fn runs(pid: u32, ticks: u64) -> bool {
    start_ticks(pid) == Some(ticks)
}

/// Waits (bounded) until process `pid` that started at `ticks` is gone.
pub fn wait_gone(pid: u32, ticks: u64, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while runs(pid, ticks) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn environ(pid: u32) -> Vec<(String, String)> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    bytes
        .split(|byte| *byte == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (key, value) = entry.split_once('=')?;
            Some((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The releases that have a process running for `site` (by the
/// `HOIST_ROOT` and `HOIST_RELEASE` every app process inherits).
pub fn releases_running(site: &Path) -> BTreeSet<String> {
    let site = site.canonicalize().unwrap_or_else(|_| site.to_owned());
    let pids = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok());
    pids.filter(|pid| start_ticks(*pid).is_some())
        .filter_map(|pid| {
            let environ = environ(pid);
            let value = |key: &str| {
                environ
                    .iter()
                    .find(|(name, _)| name == key)
                    .map(|(_, value)| value.clone())
            };
            let root = value("HOIST_ROOT")?;
            (Path::new(&root) == site).then(|| value("HOIST_RELEASE"))?
        })
        .collect()
}

/// Waits (bounded) until `done` holds for the releases running for `site`;
/// returns the last set seen.
pub fn wait_releases(
    site: &Path,
    within: Duration,
    done: impl Fn(&BTreeSet<String>) -> bool,
) -> BTreeSet<String> {
    let deadline = Instant::now() + within;
    loop {
        let running = releases_running(site);
        if done(&running) || Instant::now() >= deadline {
            return running;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
