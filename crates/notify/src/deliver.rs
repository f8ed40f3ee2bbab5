//! The deliverer: `hoist notify-deliver --root ROOT`, started detached by
//! [`crate::send`]. It takes every spooled file it can lock, tries it with
//! exponential backoff for the entry's `retry_for`, then removes it;
//! a message given up on is logged (stderr, which is
//! `<root>/notify/deliver.log`) and recorded in the ledger as a `notify`
//! event with outcome `failed`.

use crate::{spool, NotifyError};
use hoist_ledger::{Event, Ledger, Outcome};
use nix::fcntl::{Flock, FlockArg};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Starts a deliverer for the site at `root` that outlives this process:
/// stdin and stdout closed, stderr appended to the log, its own session
/// (it calls `setsid` first, [`run`]). A thread reaps it, so a long-lived
/// caller (the agent) keeps no zombie.
pub fn spawn(root: &Path) -> Result<(), NotifyError> {
    let wrap = |cause| NotifyError::Spawn {
        spool: spool::dir(root),
        cause,
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(spool::log_path(root))
        .map_err(wrap)?;
    let exe = std::env::current_exe().map_err(wrap)?;
    let mut child = Command::new(exe)
        .arg(crate::SUBCOMMAND)
        .arg("--root")
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(wrap)?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The deliverer's work: every spooled message of `root` not already
/// being delivered, each on its own thread. Returns how many were
/// delivered and how many given up.
pub fn run(root: &Path) -> (usize, usize) {
    // Its own session: the terminal hanging up, or the command that
    // started it ending, does not end it.
    let _ = nix::unistd::setsid();
    let claimed: Vec<_> = spool::list(root).into_iter().filter_map(claim).collect();
    let results: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = claimed
            .into_iter()
            .map(|(path, lock)| scope.spawn(move || deliver(root, &path, lock)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or(false))
            .collect()
    });
    let delivered = results.iter().filter(|ok| **ok).count();
    (delivered, results.len() - delivered)
}

/// Locks `path` for this deliverer; `None` when another one has it, or
/// delivered it already (the file is gone).
fn claim(path: PathBuf) -> Option<(PathBuf, Flock<std::fs::File>)> {
    let file = std::fs::File::open(&path).ok()?;
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()?;
    // Removed before its lock was let go: someone delivered it.
    path.exists().then_some((path, lock))
}

/// Tries one spooled message until it goes or its time is up; removes it.
fn deliver(root: &Path, path: &Path, lock: Flock<std::fs::File>) -> bool {
    let delivery = match spool::read(path) {
        Ok(delivery) => delivery,
        Err(problem) => {
            log(&format!("{}: {problem}; removed", path.display()));
            let _ = std::fs::remove_file(path);
            return false;
        }
    };
    // The subject ends in the operation's outcome (`: ok`): bracketed, so
    // "not delivered" after it is not read as part of it.
    let what = format!(
        "{} (message: {})",
        delivery.target.describe(),
        delivery.message.subject()
    );
    let started = Instant::now();
    let budget = Duration::from_millis(delivery.retry_for_ms);
    let mut wait = Duration::from_millis(delivery.backoff_ms.max(1));
    let mut tries = 0;
    let outcome = loop {
        tries += 1;
        match delivery.target.send(&delivery.message) {
            Ok(()) => break Ok(()),
            Err(problem) if started.elapsed() + wait > budget => break Err(problem),
            Err(problem) => {
                log(&format!(
                    "{what}: try {tries} failed ({problem}); again in {wait:?}"
                ));
                std::thread::sleep(wait);
                wait = (wait * 2).min(MAX_BACKOFF);
            }
        }
    };
    let delivered = match outcome {
        Ok(()) => {
            log(&format!("{what}: delivered (try {tries})"));
            true
        }
        Err(problem) => {
            let detail = format!(
                "{what}: not delivered after {tries} tries over {}s: {problem}",
                started.elapsed().as_secs()
            );
            log(&detail);
            record_failure(root, &delivery.message, &detail);
            false
        }
    };
    let _ = std::fs::remove_file(path);
    drop(lock);
    delivered
}

/// A `notify` event with outcome `failed`, so `hoist history` shows it.
fn record_failure(root: &Path, message: &crate::Message, detail: &str) {
    let event = Event {
        release: message.release.clone(),
        to: message.release.clone(),
        outcome: Outcome::Failed,
        detail: Some(detail.to_owned()),
        fleet_op: message.stage.clone(),
        ..Event::one_off("notify", message.who.clone(), message.host.clone())
    };
    let path = root.join("ledger.sqlite");
    let recorded = Ledger::open(&path).and_then(|ledger| {
        ledger
            .write_or_defer(&hoist_ledger::Write::Event { event })
            .map(|_| ())
    });
    if let Err(error) = recorded {
        log(&format!(
            "the failed delivery could not be recorded: {error}"
        ));
    }
}

fn log(line: &str) {
    eprintln!("{} hoist notify-deliver: {line}", jiff::Timestamp::now());
}
