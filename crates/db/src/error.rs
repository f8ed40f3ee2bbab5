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
    /// A migration file has the number of an applied migration of
    /// another name: a different migration, not an edited one.
    #[error("a different migration has number {version} on `{database}` (applied: `{applied}`, here: `{here}`, in `{file}`): give `{here}` a number after the last applied migration (rename its file); if `{applied}` was renamed instead, put its applied name back")]
    NumberTaken {
        /// The migration file here.
        file: String,
        /// Where the other one was applied.
        database: String,
        /// The number both have.
        version: u64,
        /// The applied migration's name.
        applied: String,
        /// This file's name.
        here: String,
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
    /// `hoist db migrate` reached a declarative migration: only a deploy expands it.
    #[error("migration `{migration}` on `{database}` is declarative (expand and contract): `hoist deploy` expands it before the release starts; `hoist db migrate` runs only `.up.sql` migrations{}", match before { Some(version) => format!(" (`hoist db migrate --to {version}` runs the ones before it)"), None => String::new() })]
    Declarative {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// The newest pending version before it, if there is one.
        before: Option<u64>,
    },
    /// A declarative migration on an engine that cannot run it.
    #[error("migration `{migration}` is declarative (`.toml`), which is PostgreSQL only; `{database}` is SQLite: write it as `{migration}.up.sql` instead")]
    PostgresOnly {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
    },
    /// A classic rollback would have to undo a declarative migration.
    #[error("cannot roll back past `{migration}` on `{database}`: it is declarative ({phase}ed), and down files do not undo it; {}", if phase == "expand" { "`hoist db abort` removes the expansion" } else { "it is contracted, so write a new migration that restores the old shape" })]
    DeclarativeRollback {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// `expand` or `contract`, from its history row.
        phase: String,
    },
    /// A table an expansion must backfill (or compute values for on each
    /// write) has no primary key to walk it, or name a row, by.
    #[error("table `{table}` on `{database}` has no primary key, which `{migration}` needs to backfill it in batches and to name a row whose value it cannot compute; add one in an earlier migration")]
    NoPrimaryKey {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// The table.
        table: String,
    },
    /// A declarative migration names something the database lacks.
    #[error("migration `{migration}` cannot expand on `{database}`: {problem}")]
    ExpandInvalid {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// What is wrong, naming the table or column.
        problem: String,
    },
    /// Another expansion is open; one at a time.
    #[error("expansion `{open}` is open on `{database}`, so `{wanted}` cannot expand yet: finish it with `hoist db complete` (or undo it with `hoist db abort`) first")]
    ExpansionOpen {
        /// The database.
        database: String,
        /// The open expansion's migration.
        open: String,
        /// The migration that wanted to expand.
        wanted: String,
    },
    /// Complete, abort or join with no expansion open.
    #[error("no expansion is open on `{database}`: there is nothing to complete or abort (`hoist db status` shows the migrations applied)")]
    NoExpansion {
        /// The database.
        database: String,
    },
    /// The declarative migration ran already (its history row says how far).
    #[error(
        "migration `{migration}` was {phase}ed on `{database}` already and has no open expansion: there is nothing to expand; put a further change in a new migration"
    )]
    AlreadyExpanded {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// `expand` or `contract`.
        phase: String,
    },
    /// A step of an expansion, contract or abort failed; what committed stays.
    #[error("{}. Fix the cause and run the same command again to resume, or `hoist db abort` to undo the expansion", self.problem())]
    ExpandFailed {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// The step (`columns`, `backfill`...).
        step: &'static str,
        /// What it was doing (`add column users._hoist_new_plan`).
        what: String,
        /// The database's message.
        message: String,
    },
    /// A DDL timed out waiting for its lock on every attempt.
    #[error("expansion `{migration}` on `{database}` could not {what}: each of {attempts} attempts waited its `lock_timeout` behind a transaction holding the table (see `pg_stat_activity`); nothing of it was kept. Run the same command again once that transaction is done")]
    LockTimeout {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// What it was doing.
        what: String,
        /// How many times it tried.
        attempts: u32,
    },
    /// An abort would leave something it cannot undo.
    #[error("expansion `{migration}` on `{database}` cannot be aborted: op {op} (`sql`) of `{migration}` has no `down`, so abort cannot undo what its `up` did (the applied file cannot get one: its checksum is recorded). To give the expansion up, undo op {op}'s `up` by hand (`psql`), then run `hoist db abort --sql-undone`, which removes the rest and its history row; or keep the new shape: `hoist db complete` once no release on the old side serves")]
    CannotAbort {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// The 1-based number of the `sql` op.
        op: usize,
    },
    /// Contract found rows whose new (or old) value could not be
    /// computed, and computing them again failed too.
    #[error("cannot contract `{migration}` on `{database}`: {count} row(s) have a value the migration's expressions could not compute, so contract would keep a value nobody computed. Mend those rows (in `psql`, update their old columns so the expression works), then run `hoist db complete` again. {}", fault_list(sample, *count))]
    ExpandFaults {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// How many rows.
        count: usize,
        /// The first few, each `` `users` row {"id": 5}: `score` (division by zero) ``.
        sample: Vec<String>,
    },
    /// Complete asked of an expansion that did not finish expanding.
    #[error("expansion `{migration}` on `{database}` stopped at step `{step}` before it finished{}, so it cannot be completed: `hoist db abort` undoes it; `hoist recover` (or the same `hoist deploy` again, once the cause is fixed) resumes it", failed.as_ref().map(|f| format!(" (it failed: {f})")).unwrap_or_default())]
    NotExpanded {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// Where it stopped.
        step: &'static str,
        /// Why, when a step failed (recorded with the state).
        failed: Option<String>,
    },
    /// Expand or join asked of an expansion being completed or aborted.
    #[error("expansion `{migration}` on `{database}` is {step} (a `hoist db complete` or `hoist db abort` did not finish): run that command again first")]
    Finishing {
        /// The database.
        database: String,
        /// The migration's file stem.
        migration: String,
        /// `completing` or `aborting`.
        step: &'static str,
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

impl DbError {
    /// What went wrong without the way out the message ends with, for a
    /// caller whose own way out differs: a deploy that removed its failed
    /// expansion again has nothing left to resume or abort.
    pub fn problem(&self) -> String {
        match self {
            DbError::ExpandFailed {
                database,
                migration,
                step,
                what,
                message,
            } => format!(
                "expansion `{migration}` on `{database}` failed at step `{step}` ({what}): {message}"
            ),
            DbError::LockTimeout {
                database,
                migration,
                what,
                attempts,
            } => format!(
                "expansion `{migration}` on `{database}` could not {what}: each of {attempts} attempts waited its `lock_timeout` behind a transaction holding the table (see `pg_stat_activity`)"
            ),
            DbError::ExpandFaults {
                database,
                migration,
                count,
                sample,
            } => format!(
                "the open expansion `{migration}` on `{database}` has {count} row(s) with a value its expressions could not compute, so it cannot be contracted. {}",
                fault_list(sample, *count)
            ),
            other => other.to_string(),
        }
    }
}

impl hoist_error::Described for DbError {
    fn kind(&self) -> &'static str {
        match self {
            DbError::BadUrl { .. } => "config-invalid",
            DbError::ReadDir { cause, .. } => hoist_error::io_kind(cause),
            DbError::BadMigration { .. } => "migration-invalid",
            DbError::Drift { .. } => "migration-drift",
            DbError::NumberTaken { .. } => "migration-number-taken",
            DbError::Dirty { .. } => "db-dirty",
            DbError::Locked { .. } => "db-locked",
            DbError::Failed { .. } => "migration-failed",
            DbError::NoDown { .. } => "no-down-migration",
            DbError::NotInHistory { .. } => "not-in-history",
            DbError::Database { .. } => "db-error",
            DbError::Backup { .. } => "backup-failed",
            DbError::Declarative { .. } => "migration-declarative",
            DbError::PostgresOnly { .. } => "postgres-only",
            DbError::DeclarativeRollback { .. } => "rollback-declarative",
            DbError::NoPrimaryKey { .. } => "no-primary-key",
            DbError::ExpandInvalid { .. } => "expand-invalid",
            DbError::ExpansionOpen { .. } => "expansion-open",
            DbError::NoExpansion { .. } => "no-expansion",
            DbError::AlreadyExpanded { .. } => "already-expanded",
            DbError::ExpandFailed { .. } => "expand-failed",
            DbError::LockTimeout { .. } => "lock-timeout",
            DbError::CannotAbort { .. } => "cannot-abort",
            DbError::NotExpanded { .. } => "not-expanded",
            DbError::Finishing { .. } => "expansion-finishing",
            DbError::ExpandFaults { .. } => "expand-faults",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            DbError::Dirty { version, .. } => {
                hoist_error::command(&format!("db repair {version} --applied"))
            }
            DbError::NoDown { .. } => hoist_error::command("db restore"),
            DbError::BadMigration { .. } => Some(
                "fix the file as the message says, then `hoist build` (it checks the migrations) and deploy the new artifact".to_owned(),
            ),
            DbError::NumberTaken { here, .. } => Some(format!(
                "rename `{here}`'s file to a number after the last applied migration (`hoist db status` lists them), then `hoist build` and deploy the new artifact"
            )),
            DbError::Drift { .. } => Some(
                "put the applied text back (the history keeps its checksum), add a new migration for the change, then `hoist build` and deploy".to_owned(),
            ),
            DbError::Declarative { .. } => hoist_error::command("deploy"),
            DbError::DeclarativeRollback { phase, .. } if phase == "expand" => {
                hoist_error::command("db abort")
            }
            DbError::ExpansionOpen { .. } => hoist_error::command("db complete"),
            DbError::ExpandFailed { .. } => hoist_error::command("db abort"),
            DbError::CannotAbort { migration, op, .. } => Some(format!(
                "undo op {op} (`sql`) of `{migration}` by hand with `psql`, then `hoist db abort --sql-undone`; or keep the new shape: `hoist db complete` once no old-side release serves"
            )),
            // A step that failed fails again on resume until its cause is
            // fixed: abort is the way out that always works.
            DbError::NotExpanded {
                failed: Some(_), ..
            } => hoist_error::command("db abort"),
            DbError::NotExpanded { .. } => hoist_error::command("recover"),
            DbError::ExpandFaults { .. } => hoist_error::command("db status"),
            _ => None,
        }
    }
}

/// "The first 5:" and one line a row.
fn fault_list(sample: &[String], count: usize) -> String {
    let head = match sample.len() < count {
        true => format!("The first {}:", sample.len()),
        false => "They are:".to_owned(),
    };
    let rows: String = sample.iter().map(|row| format!("\n  - {row}")).collect();
    format!("{head}{rows}")
}
