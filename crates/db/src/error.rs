use std::path::PathBuf;

/// A migration failure. Every variant names the database or the file, and
/// the ones a person must act on say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// `[database] url` is neither `sqlite://` nor `postgres://`.
    #[error(
        "database url `{url}` is not supported: use `sqlite://PATH` or `postgres://USER@HOST/DB`"
    )]
    BadUrl {
        /// The url as written.
        url: String,
    },
    /// The migrations directory cannot be read.
    #[error("cannot read migrations in `{}`: {cause}", path.display())]
    ReadDir {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// A file in the migrations directory breaks the naming rules.
    #[error("migration `{}`: {problem}", path.display())]
    BadMigration {
        /// The file.
        path: PathBuf,
        /// What is wrong and how it should look.
        problem: String,
    },
    /// An applied migration's file changed since it ran.
    #[error("migration `{file}` was edited after it was applied to `{database}` (checksum {applied} then, {now} now); put the applied text back and add a new migration for the change")]
    Drift {
        /// The migration file.
        file: String,
        /// Where it was applied.
        database: String,
        /// Checksum recorded when it ran.
        applied: String,
        /// Checksum of the file now.
        now: String,
    },
    /// A non-transactional migration started and never finished.
    #[error("database `{database}` is dirty: `{migration}` ran outside a transaction and did not finish, so its changes may be half done. Check what it did and finish or undo it by hand, then run `hoist db repair {version} --applied` (finished) or `hoist db repair {version} --undone` (undone)")]
    Dirty {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// Its version.
        version: u64,
    },
    /// Another migrator holds the lock.
    #[error("database `{database}` is being migrated by someone else ({holder}); waited {waited_ms} ms. Try again when it is done")]
    Locked {
        /// The database.
        database: String,
        /// Who holds it, as far as the database can tell.
        holder: String,
        /// How long we waited.
        waited_ms: u64,
    },
    /// A migration's SQL failed; nothing of it was kept unless `dirty`.
    #[error("migration `{migration}` failed on `{database}`: {message}{}", if *dirty { " (it ran outside a transaction: the database is now dirty)" } else { " (rolled back: the database is as it was)" })]
    Failed {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// The database's message.
        message: String,
        /// True when it ran without a transaction and left a dirty mark.
        dirty: bool,
    },
    /// Rolling back needs a down migration that does not exist.
    #[error("migration `{migration}` has no down migration (`{migration}.down.sql`); restore a backup instead")]
    NoDown {
        /// The migration's file stem.
        migration: String,
    },
    /// `repair` names a version the history does not have.
    #[error("database `{database}` has no migration {version} in its history")]
    NotInHistory {
        /// The database.
        database: String,
        /// The version asked for.
        version: u64,
    },
    /// The database itself refused (connect, query).
    #[error("database `{database}`: {message}")]
    Database {
        /// The database.
        database: String,
        /// Its message.
        message: String,
    },
    /// A backup or restore failed.
    #[error("{action} `{}`: {problem}", path.display())]
    Backup {
        /// What was being done.
        action: &'static str,
        /// The backup file.
        path: PathBuf,
        /// Why it failed.
        problem: String,
    },
}

impl hoist_error::Described for DbError {
    fn kind(&self) -> &'static str {
        match self {
            DbError::BadUrl { .. } => "config-invalid",
            DbError::ReadDir { cause, .. } => hoist_error::io_kind(cause),
            DbError::BadMigration { .. } => "migration-invalid",
            DbError::Drift { .. } => "migration-drift",
            DbError::Dirty { .. } => "db-dirty",
            DbError::Locked { .. } => "db-locked",
            DbError::Failed { .. } => "migration-failed",
            DbError::NoDown { .. } => "no-down-migration",
            DbError::NotInHistory { .. } => "not-in-history",
            DbError::Database { .. } => "db-error",
            DbError::Backup { .. } => "backup-failed",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            DbError::Dirty { version, .. } => {
                hoist_error::command(&format!("db repair {version} --applied"))
            }
            DbError::NoDown { .. } => hoist_error::command("db restore"),
            _ => None,
        }
    }
}
