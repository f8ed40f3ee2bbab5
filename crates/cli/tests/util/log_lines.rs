//! A child's output read line by line on a thread, kept for diagnostics
//! and for readiness: a test waits for the line a server prints once it
//! serves (sshd's "Server listening on"). Draining also keeps a chatty
//! server (sshd `-e` logs every connection) from blocking on a full pipe.

use std::io::BufRead;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The lines read so far, and whether the stream ended.
#[derive(Default)]
struct Seen {
    lines: Vec<String>,
    ended: bool,
}

/// Lines of one stream, shared with the thread that reads it.
#[derive(Clone, Default)]
pub struct LogLines(Arc<(Mutex<Seen>, Condvar)>);

impl LogLines {
    /// Reads `stream` to its end on a new thread.
    pub fn follow(stream: impl std::io::Read + Send + 'static) -> LogLines {
        let log = LogLines::default();
        let shared = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                shared.push(|seen| seen.lines.push(line));
            }
            shared.push(|seen| seen.ended = true);
        });
        log
    }

    fn push(&self, change: impl FnOnce(&mut Seen)) {
        let (seen, changed) = &*self.0;
        change(&mut seen.lock().unwrap());
        changed.notify_all();
    }

    /// Waits until a line contains `text` and returns it; `Err` with every
    /// line read when the stream ends first or `within` passes.
    pub fn wait_for(&self, text: &str, within: Duration) -> Result<String, String> {
        let deadline = Instant::now() + within;
        let (seen, changed) = &*self.0;
        let mut guard = seen.lock().unwrap();
        loop {
            if let Some(line) = guard.lines.iter().find(|line| line.contains(text)) {
                return Ok(line.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if guard.ended || left.is_zero() {
                return Err(guard.lines.join("\n"));
            }
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
    }

    /// Every line read so far.
    pub fn text(&self) -> String {
        self.0 .0.lock().unwrap().lines.join("\n")
    }
}
