//! How long hoist's sessions hold locks on a table, seen by polling
//! `pg_stat_activity` joined with `pg_locks` from a connection of our own.
//!
//! Every session in the database that is neither the app's (its
//! `application_name` is `schema-app`) nor the watcher's counts as
//! hoist's. For each of its transactions that holds a granted lock on the
//! table, the watch keeps the longest age it saw (`clock_timestamp() -
//! xact_start`), split in two: transactions running an `UPDATE` (the
//! backfill's batches: row locks the app's updates would wait for), and any
//! holding a lock that blocks the app's writes (`ShareLock` and stronger:
//! DDL). A sample can miss the last moments of a transaction, so a lock
//! may have been held up to one poll interval longer than reported.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The watch stops by itself after this long.
const MAX_WATCH: Duration = Duration::from_secs(600);

/// What the watch saw.
#[derive(Debug, Default, Clone)]
pub struct Locks {
    /// The longest backfill (`UPDATE`) transaction seen holding a lock on
    /// the table, in milliseconds.
    pub longest_update_ms: f64,
    /// Its query, for the report.
    pub longest_update_query: String,
    /// How many backfill transactions were seen.
    pub updates_seen: usize,
    /// The longest a batch held its row locks: from its `UPDATE` of the
    /// table, as sampled, to its last sample; in ms.
    pub longest_row_locks_ms: f64,
    /// Of the batches seen, how many were caught running their `UPDATE`.
    pub updates_timed: usize,
    /// The longest hold of a lock that blocks writes (DDL), in ms.
    pub longest_blocking_ms: f64,
    /// Its query.
    pub longest_blocking_query: String,
    /// The lock modes it held on the table.
    pub longest_blocking_modes: String,
    /// Polls made.
    pub polls: u64,
    /// The mean time between polls, in ms: the error bound of each figure.
    pub poll_interval_ms: f64,
}

/// A polling thread; [`LockWatch::finish`] stops it.
pub struct LockWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Locks>,
}

impl LockWatch {
    /// Starts polling `url` for locks on `table` (in `public`).
    pub fn start(url: &str, table: &str) -> LockWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let mut client = super::schema_rows::connect_as(url, "public");
        let flag = stop.clone();
        let query = format!(
            "SELECT a.pid, a.xact_start::text, \
                    extract(epoch FROM clock_timestamp() - a.xact_start)::float8 * 1000, \
                    a.query, \
                    extract(epoch FROM clock_timestamp() - a.query_start)::float8 * 1000, \
                    string_agg(DISTINCT l.mode, ',') \
             FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid \
             WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
               AND a.application_name <> 'schema-app' AND a.xact_start IS NOT NULL \
               AND l.granted AND l.locktype = 'relation' AND l.relation = 'public.{table}'::regclass \
             GROUP BY a.pid, a.xact_start, a.query_start, a.query"
        );
        let table_update = format!("update \"public\".\"{table}\"");
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut locks = Locks::default();
            // Per batch transaction: when (ms after it began) its UPDATE of
            // the table started, if a sample caught it.
            let mut seen: HashMap<(i32, String), Option<f64>> = HashMap::new();
            while !flag.load(Ordering::SeqCst) && started.elapsed() < MAX_WATCH {
                locks.polls += 1;
                for row in client.query(&query, &[]).unwrap() {
                    let (pid, start): (i32, String) = (row.get(0), row.get(1));
                    let (age, text, statement_age, blocking): (f64, String, f64, String) =
                        (row.get(2), row.get(3), row.get(4), row.get(5));
                    let lower = text.trim_start().to_ascii_lowercase();
                    if lower.starts_with("update") {
                        let began = seen.entry((pid, start)).or_insert_with(|| {
                            locks.updates_seen += 1;
                            None
                        });
                        if lower.starts_with(&table_update) && began.is_none() {
                            *began = Some(age - statement_age);
                            locks.updates_timed += 1;
                        }
                        if let Some(began) = *began {
                            locks.longest_row_locks_ms =
                                locks.longest_row_locks_ms.max(age - began);
                        }
                        if age > locks.longest_update_ms {
                            locks.longest_update_ms = age;
                            locks.longest_update_query = text.clone();
                        }
                    }
                    let blocks_writes = [
                        "ShareLock",
                        "ShareRowExclusiveLock",
                        "ExclusiveLock",
                        "AccessExclusiveLock",
                    ]
                    .iter()
                    .any(|mode| blocking.split(',').any(|held| held == *mode));
                    if blocks_writes && age > locks.longest_blocking_ms {
                        locks.longest_blocking_ms = age;
                        locks.longest_blocking_query = text;
                        locks.longest_blocking_modes = blocking;
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            locks.poll_interval_ms =
                started.elapsed().as_secs_f64() * 1000.0 / locks.polls.max(1) as f64;
            locks
        });
        LockWatch { stop, thread }
    }

    /// Stops the watch and returns what it saw.
    pub fn finish(self) -> Locks {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}
