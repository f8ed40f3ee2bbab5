//! PostgreSQL through the `postgres` crate (the blocking face of
//! tokio-postgres): `pg_advisory_lock` on a dedicated connection,
//! transactional DDL, `pg_dump -Fc` backups.

use crate::driver::{seal_backup, Applied, Driver, Step, HISTORY_TABLE};
use crate::DbError;
use postgres::{Client, NoTls};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The advisory lock key every hoist migrator of a database agrees on.
const LOCK_KEY: i64 = 0x686f_6973_745f_6d67; // "hoist_mg"

/// An open PostgreSQL database.
pub struct Postgres {
    url: String,
    client: Client,
    /// The connection holding the advisory lock, kept apart so a failed
    /// migration's rollback never releases it.
    locker: Option<Client>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.describe())
            .finish()
    }
}

impl Postgres {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`).
    pub fn connect(url: &str) -> Result<Postgres, DbError> {
        let client = connect(url)?;
        Ok(Postgres {
            url: url.to_owned(),
            client,
            locker: None,
        })
    }

    fn error(&self, error: postgres::Error) -> DbError {
        DbError::Database {
            database: self.describe(),
            message: message(&error),
        }
    }

    fn failed(&self, step: &Step<'_>, error: &postgres::Error, dirty: bool) -> DbError {
        DbError::Failed {
            database: self.describe(),
            migration: step.row.name.clone(),
            message: message(error),
            dirty,
        }
    }

    fn insert_row(&mut self, row: &Applied, dirty: bool) -> Result<u64, postgres::Error> {
        self.client.execute(
            &format!("INSERT INTO {HISTORY_TABLE} (version, name, checksum, phase, applied_at, applied_by, dirty, down_sql) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[&(row.version as i64), &row.name, &row.checksum, &row.phase, &row.applied_at, &row.applied_by, &dirty, &row.down],
        )
    }

    /// Who holds the advisory lock, for the "locked" message. Advisory
    /// locks are per database: a migrator of another database on the same
    /// server holds the same key, and is not the one in the way.
    fn holder(&mut self) -> String {
        let sql = "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, 'local') \
                   FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                   WHERE l.locktype = 'advisory' AND l.granted \
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND ((l.classid::bigint << 32) | l.objid::bigint) = $1";
        match self.client.query_opt(sql, &[&LOCK_KEY]) {
            Ok(Some(row)) => format!(
                "backend pid {} from {} {}",
                row.get::<_, i32>(0),
                row.get::<_, String>(2),
                row.get::<_, String>(1)
            )
            .trim_end()
            .to_owned(),
            _ => "another connection holds hoist's advisory lock".into(),
        }
    }
}

impl Driver for Postgres {
    fn describe(&self) -> String {
        redact(&self.url)
    }

    fn expands(&self) -> bool {
        true
    }

    fn server_version(&mut self) -> Result<String, DbError> {
        let row = self
            .client
            .query_one("SELECT version()", &[])
            .map_err(|e| self.error(e))?;
        Ok(row.get::<_, String>(0))
    }

    fn lock(&mut self, timeout: Duration) -> Result<(), DbError> {
        let mut locker = connect(&self.url)?;
        let started = Instant::now();
        loop {
            let row = locker
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
                .map_err(|e| self.error(e))?;
            if row.get::<_, bool>(0) {
                self.locker = Some(locker);
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(DbError::Locked {
                    database: self.describe(),
                    holder: self.holder(),
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            std::thread::sleep(Duration::from_millis(100).min(timeout));
        }
    }

    fn unlock(&mut self) {
        // Closing the session releases its advisory locks.
        self.locker = None;
    }

    fn applied(&mut self) -> Result<Vec<Applied>, DbError> {
        self.client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                    phase TEXT NOT NULL, applied_at TEXT NOT NULL, applied_by TEXT NOT NULL,
                    dirty BOOLEAN NOT NULL, down_sql TEXT)"
            ))
            .map_err(|e| self.error(e))?;
        let rows = self
            .client
            .query(&format!("SELECT version, name, checksum, phase, applied_at, applied_by, dirty, down_sql FROM {HISTORY_TABLE} ORDER BY version"), &[])
            .map_err(|e| self.error(e))?;
        Ok(rows
            .iter()
            .map(|row| Applied {
                version: row.get::<_, i64>(0) as u64,
                name: row.get(1),
                checksum: row.get(2),
                phase: row.get(3),
                applied_at: row.get(4),
                applied_by: row.get(5),
                dirty: row.get(6),
                down: row.get(7),
            })
            .collect())
    }

    fn run(&mut self, step: &Step<'_>) -> Result<(), DbError> {
        if step.transactional {
            let mut tx = self.client.transaction().map_err(|e| db(&self.url, e))?;
            if let Err(error) = tx.batch_execute(step.sql) {
                drop(tx); // rolls back
                return Err(self.failed(step, &error, false));
            }
            let history = if step.up {
                tx.execute(
                    &format!("INSERT INTO {HISTORY_TABLE} (version, name, checksum, phase, applied_at, applied_by, dirty, down_sql) VALUES ($1, $2, $3, $4, $5, $6, false, $7)"),
                    &[&(step.row.version as i64), &step.row.name, &step.row.checksum, &step.row.phase, &step.row.applied_at, &step.row.applied_by, &step.row.down],
                )
            } else {
                tx.execute(
                    &format!("DELETE FROM {HISTORY_TABLE} WHERE version = $1"),
                    &[&(step.row.version as i64)],
                )
            };
            return history
                .and_then(|_| tx.commit())
                .map_err(|e| db(&self.url, e));
        }
        if step.up {
            self.insert_row(step.row, true).map_err(|e| self.error(e))?;
        }
        // One statement per round trip: a multi-statement string would run
        // as one implicit transaction, which `CREATE INDEX CONCURRENTLY` refuses.
        for statement in crate::split::statements(step.sql) {
            if let Err(error) = self.client.batch_execute(&statement) {
                return Err(self.failed(step, &error, true));
            }
        }
        self.repair(step.row.version, step.up).map(drop)
    }

    fn repair(&mut self, version: u64, applied: bool) -> Result<u64, DbError> {
        let sql = if applied {
            format!("UPDATE {HISTORY_TABLE} SET dirty = false WHERE version = $1")
        } else {
            format!("DELETE FROM {HISTORY_TABLE} WHERE version = $1")
        };
        self.client
            .execute(&sql, &[&(version as i64)])
            .map_err(|e| self.error(e))
    }

    fn backup(&mut self, path: &Path) -> Result<(), DbError> {
        let partial = path.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        tool(
            Command::new("pg_dump")
                .arg("--format=custom")
                .arg("--file")
                .arg(&partial)
                .arg("--dbname")
                .arg(&self.url),
        )
        .map_err(|problem| {
            let _ = std::fs::remove_file(&partial);
            DbError::Backup {
                action: "cannot back up to",
                path: path.to_owned(),
                problem,
            }
        })?;
        seal_backup(&partial, path)
    }

    fn restore(&mut self, path: &Path) -> Result<(), DbError> {
        // One transaction: a restore that fails halfway changes nothing.
        tool(
            Command::new("pg_restore")
                .args([
                    "--clean",
                    "--if-exists",
                    "--single-transaction",
                    "--no-owner",
                ])
                .arg("--dbname")
                .arg(&self.url)
                .arg(path),
        )
        .map_err(|problem| DbError::Backup {
            action: "cannot restore from",
            path: path.to_owned(),
            problem,
        })
    }

    fn backup_extension(&self) -> &'static str {
        "pgdump"
    }
}

fn connect(url: &str) -> Result<Client, DbError> {
    Client::connect(url, NoTls).map_err(|error| db(url, error))
}

fn db(url: &str, error: postgres::Error) -> DbError {
    DbError::Database {
        database: redact(url),
        message: message(&error),
    }
}

/// The server's own message when there is one ("relation ... does not exist").
fn message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => error.to_string(),
    }
}

/// Runs a PostgreSQL client tool; `Err` carries its stderr.
fn tool(command: &mut Command) -> Result<(), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|error| {
        format!("cannot run `{program}` ({error}); install the postgresql-client package")
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{program}` {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// The url without its password, for messages and the ledger.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/shop"),
            "postgres://app:***@db:5432/shop"
        );
        assert_eq!(
            super::redact("postgres://app@db/shop"),
            "postgres://app@db/shop"
        );
    }
}
