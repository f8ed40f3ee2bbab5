//! The narrow interface the planner needs from a database engine.

use crate::DbError;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// The table hoist keeps its migration history in, inside the app's database.
pub const HISTORY_TABLE: &str = "hoist_schema_history";

/// One row of the history: a migration the database has (or half has).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// The migration's number.
    pub version: u64,
    /// Its file stem, e.g. `0003_add_email`.
    pub name: String,
    /// The checksum of the up SQL that ran.
    pub checksum: String,
    /// `pre` or `post`.
    pub phase: String,
    /// When it ran (RFC 3339).
    pub applied_at: String,
    /// Who ran it (`user@host`).
    pub applied_by: String,
    /// A non-transactional migration that started and did not finish.
    pub dirty: bool,
    /// The down SQL as it was when the up ran, so a rollback works even
    /// from a release that predates the migration.
    #[serde(skip)]
    pub down: Option<String>,
}

/// What to run: one migration, one direction.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// The history row written on the way up (removed on the way down).
    pub row: &'a Applied,
    /// The SQL to run.
    pub sql: &'a str,
    /// Inside one transaction with the history change, or with a dirty mark.
    pub transactional: bool,
    /// Up or down.
    pub up: bool,
}

/// A database hoist can migrate.
pub trait Driver {
    /// The database, for messages (no password).
    fn describe(&self) -> String;
    /// Takes the migration lock, waiting at most `timeout`. Held until [`Driver::unlock`] or drop.
    fn lock(&mut self, timeout: Duration) -> Result<(), DbError>;
    /// Gives the migration lock back.
    fn unlock(&mut self);
    /// The history, ordered by version; creates the table if missing.
    fn applied(&mut self) -> Result<Vec<Applied>, DbError>;
    /// Runs `step`. A transactional step and its history change commit
    /// together or not at all; a non-transactional one is marked dirty
    /// first and clean after, so a failure halfway is visible.
    fn run(&mut self, step: &Step<'_>) -> Result<(), DbError>;
    /// Marks `version` finished (`applied`) or removes its row (undone);
    /// returns the rows changed ([`crate::repair`] turns 0 into an error).
    fn repair(&mut self, version: u64, applied: bool) -> Result<u64, DbError>;
    /// Writes a consistent copy of the whole database to `path`, durably.
    fn backup(&mut self, path: &Path) -> Result<(), DbError>;
    /// Replaces the database's contents with the backup at `path`.
    fn restore(&mut self, path: &Path) -> Result<(), DbError>;
    /// File name suffix of this engine's backups.
    fn backup_extension(&self) -> &'static str;
    /// Whether it runs declarative (expand and contract) migrations:
    /// PostgreSQL does, SQLite does not.
    fn expands(&self) -> bool {
        false
    }
    /// The server's own account of its version (`PostgreSQL 15.5 …`,
    /// `SQLite 3.45.0`), for the runtime fingerprint (`[parity]`): read
    /// from the server, since a client's `--version` says nothing of it.
    fn server_version(&mut self) -> Result<String, DbError>;
}

/// Fsyncs a finished backup file, renames it into place and fsyncs the directory.
pub(crate) fn seal_backup(partial: &Path, path: &Path) -> Result<(), DbError> {
    let fail = |problem: std::io::Error| DbError::Backup {
        action: "cannot finish backup",
        path: path.to_owned(),
        problem: problem.to_string(),
    };
    std::fs::File::open(partial)
        .and_then(|file| file.sync_all())
        .map_err(fail)?;
    std::fs::rename(partial, path).map_err(fail)?;
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    std::fs::File::open(dir.unwrap_or(Path::new(".")))
        .and_then(|dir| dir.sync_all())
        .map_err(fail)
}
