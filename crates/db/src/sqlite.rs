//! SQLite: `BEGIN IMMEDIATE` for locking, `VACUUM INTO` for backups, the
//! online backup API for restores.

use crate::driver::{seal_backup, Applied, Driver, Step, HISTORY_TABLE};
use crate::DbError;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An open SQLite database.
#[derive(Debug)]
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
    /// How long a write waits for another writer: set by [`Driver::lock`].
    wait: Duration,
}

impl Sqlite {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Sqlite, DbError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| DbError::Database {
                database: path.display().to_string(),
                message: format!("cannot create `{}`: {error}", dir.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(|error| db_error(path, error))?;
        let wait = Duration::from_secs(30);
        conn.busy_timeout(wait)
            .map_err(|error| db_error(path, error))?;
        Ok(Sqlite {
            conn,
            path: path.to_owned(),
            wait,
        })
    }

    /// Busy means another writer kept the lock past `self.wait`.
    fn error(&self, error: rusqlite::Error) -> DbError {
        if is_busy(&error) {
            return DbError::Locked {
                database: self.describe(),
                holder: "another connection holds the write lock".into(),
                waited_ms: self.wait.as_millis() as u64,
            };
        }
        db_error(&self.path, error)
    }

    /// `BEGIN IMMEDIATE`: the write lock, waiting up to `self.wait` for
    /// another writer (another migrator, or the app) to finish.
    fn begin_immediate(&self) -> Result<(), DbError> {
        let started = Instant::now();
        let begun = self.conn.execute_batch("BEGIN IMMEDIATE");
        begun.map_err(|error| match self.error(error) {
            DbError::Locked {
                database, holder, ..
            } => DbError::Locked {
                database,
                holder,
                waited_ms: started.elapsed().as_millis() as u64,
            },
            other => other,
        })
    }

    fn has_row(&self, version: u64) -> Result<bool, DbError> {
        let sql = format!("SELECT 1 FROM {HISTORY_TABLE} WHERE version = ?1");
        self.conn
            .query_row(&sql, [version as i64], |_| Ok(()))
            .optional()
            .map(|row| row.is_some())
            .map_err(|e| self.error(e))
    }

    fn insert_row(&self, row: &Applied, dirty: bool) -> rusqlite::Result<usize> {
        self.conn.execute(
            &format!("INSERT INTO {HISTORY_TABLE} (version, name, checksum, phase, applied_at, applied_by, dirty, down_sql) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![row.version as i64, row.name, row.checksum, row.phase, row.applied_at, row.applied_by, dirty, row.down],
        )
    }

    fn transactional(&self, step: &Step<'_>) -> Result<(), DbError> {
        self.begin_immediate()?;
        let result = (|| {
            // Another migrator may have done this step while we waited for the lock.
            if self.has_row(step.row.version)? == step.up {
                return Ok(());
            }
            self.conn
                .execute_batch(step.sql)
                .map_err(|error| self.failed(step, error, false))?;
            let history = if step.up {
                self.insert_row(step.row, false)
            } else {
                self.conn.execute(
                    &format!("DELETE FROM {HISTORY_TABLE} WHERE version = ?1"),
                    [step.row.version as i64],
                )
            };
            history.map_err(|e| self.error(e)).map(drop)
        })();
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.conn.execute_batch(end).map_err(|e| self.error(e));
        result.and(ended)
    }

    fn failed(&self, step: &Step<'_>, error: rusqlite::Error, dirty: bool) -> DbError {
        DbError::Failed {
            database: self.describe(),
            migration: step.row.name.clone(),
            message: error.to_string(),
            dirty,
        }
    }
}

impl Driver for Sqlite {
    fn describe(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    fn server_version(&mut self) -> Result<String, DbError> {
        let version: String = self
            .conn
            .query_row("SELECT sqlite_version()", [], |row| row.get(0))
            .map_err(|e| self.error(e))?;
        Ok(format!("SQLite {version}"))
    }

    fn lock(&mut self, timeout: Duration) -> Result<(), DbError> {
        // Each step takes SQLite's own write lock (`BEGIN IMMEDIATE`) and
        // re-reads the history inside it, so racing migrators serialise
        // per step and never apply one twice.
        self.wait = timeout;
        self.conn.busy_timeout(timeout).map_err(|e| self.error(e))
    }

    fn unlock(&mut self) {}

    fn applied(&mut self) -> Result<Vec<Applied>, DbError> {
        // Only create when missing: reading needs no write lock, creating does.
        let exists = self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [HISTORY_TABLE],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| self.error(e))?
            .is_some();
        if !exists {
            let create = format!(
                "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                    phase TEXT NOT NULL, applied_at TEXT NOT NULL, applied_by TEXT NOT NULL,
                    dirty INTEGER NOT NULL, down_sql TEXT)"
            );
            self.conn
                .execute_batch(&create)
                .map_err(|e| self.error(e))?;
        }
        let sql = format!("SELECT version, name, checksum, phase, applied_at, applied_by, dirty, down_sql FROM {HISTORY_TABLE} ORDER BY version");
        let mut statement = self.conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok(Applied {
                    version: row.get::<_, i64>(0)? as u64,
                    name: row.get(1)?,
                    checksum: row.get(2)?,
                    phase: row.get(3)?,
                    applied_at: row.get(4)?,
                    applied_by: row.get(5)?,
                    dirty: row.get(6)?,
                    down: row.get(7)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
        rows.map_err(|error| db_error(&self.path, error))
    }

    fn run(&mut self, step: &Step<'_>) -> Result<(), DbError> {
        if step.transactional {
            return self.transactional(step);
        }
        if step.up {
            self.insert_row(step.row, true).map_err(|e| self.error(e))?;
        }
        self.conn
            .execute_batch(step.sql)
            .map_err(|error| self.failed(step, error, true))?;
        self.repair(step.row.version, step.up).map(drop)
    }

    fn repair(&mut self, version: u64, applied: bool) -> Result<u64, DbError> {
        let sql = if applied {
            format!("UPDATE {HISTORY_TABLE} SET dirty = 0 WHERE version = ?1")
        } else {
            format!("DELETE FROM {HISTORY_TABLE} WHERE version = ?1")
        };
        self.conn
            .execute(&sql, [version as i64])
            .map(|changed| changed as u64)
            .map_err(|e| self.error(e))
    }

    fn backup(&mut self, path: &Path) -> Result<(), DbError> {
        let partial = path.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let fail = |problem: String| DbError::Backup {
            action: "cannot back up to",
            path: path.to_owned(),
            problem,
        };
        self.conn
            .execute("VACUUM INTO ?1", [partial.to_string_lossy()])
            .map_err(|error| fail(error.to_string()))?;
        check_integrity(&partial).map_err(fail)?;
        seal_backup(&partial, path)
    }

    fn restore(&mut self, path: &Path) -> Result<(), DbError> {
        check_integrity(path).map_err(|problem| DbError::Backup {
            action: "refusing to restore from",
            path: path.to_owned(),
            problem,
        })?;
        // The backup API copies page by page under SQLite's own locks, so
        // app connections see the old database or the restored one, never a mix.
        self.conn
            .restore(
                rusqlite::MAIN_DB,
                path,
                None::<fn(rusqlite::backup::Progress)>,
            )
            .map_err(|error| DbError::Backup {
                action: "cannot restore from",
                path: path.to_owned(),
                problem: error.to_string(),
            })
    }

    fn backup_extension(&self) -> &'static str {
        "sqlite"
    }
}

/// `PRAGMA integrity_check` on a file opened read-only and immutable, so the
/// check itself creates no `-wal` or `-shm` beside it.
pub fn check_integrity(path: &Path) -> Result<(), String> {
    let escaped = path
        .display()
        .to_string()
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23");
    let uri = format!("file:{escaped}?immutable=1");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(uri, flags).map_err(|error| error.to_string())?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|error| format!("not a readable SQLite database: {error}"))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(format!("integrity check failed: {verdict}"))
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn db_error(path: &Path, error: rusqlite::Error) -> DbError {
    DbError::Database {
        database: format!("sqlite://{}", path.display()),
        message: error.to_string(),
    }
}
