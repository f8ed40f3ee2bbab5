//! The statements a killed hoist left running.
//!
//! PostgreSQL notices that a client died only when it next talks to it:
//! after a `kill -9` the backend goes on with the statement it was given.
//! Mostly that is short (a batch, a DDL under `lock_timeout`), but a
//! `CREATE INDEX CONCURRENTLY` can run for minutes, holding the table's
//! SHARE UPDATE EXCLUSIVE lock, and the resumed step (which drops the
//! INVALID index and builds it again) would time out behind it. Once the
//! migrators' lock is ours, any other busy session of an expander is such
//! an orphan: every expander that changes anything holds that lock.

use postgres::GenericClient;
use std::time::{Duration, Instant};

/// Ends the busy sessions named `application` in this database other
/// than ours (a status query, or an expander connecting, is left alone:
/// `SELECT`, `SET`), and waits up to
/// `wait` for them to go; returns their pids.
pub(crate) fn end(
    client: &mut impl GenericClient,
    application: &str,
    wait: Duration,
) -> Result<Vec<i32>, postgres::Error> {
    let rows = client.query(
        "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid() \
         AND state <> 'idle' AND query !~* '^\\s*(select|set)\\M'",
        &[&application],
    )?;
    let pids: Vec<i32> = rows.iter().map(|row| row.get(0)).collect();
    let started = Instant::now();
    while !pids.is_empty() && started.elapsed() < wait {
        let left: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY ($1)",
                &[&pids],
            )?
            .get(0);
        if left == 0 {
            break;
        }
        // Polling the server until the backends exit.
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(pids)
}
