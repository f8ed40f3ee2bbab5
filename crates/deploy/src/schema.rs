//! The app's database alongside releases: `hoist db ...`, migrations
//! during a deploy, and downs during `rollback --with-db`. Every change is
//! preceded by a backup and recorded in the ledger with the backup's path.

use crate::schema_record::{one_off, record_one, record_run};
use crate::{Context, DeployError, Reporter};
use hoist_config::Database;
use hoist_db::{Migration, Phase, RunOptions, RunReport, SchemaStatus, Target, Undo};
use hoist_ledger::Outcome;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One site's database and the migrations to hold it against.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Where the database is.
    pub target: Target,
    /// The migrations directory used.
    pub migrations_dir: PathBuf,
    /// `[database] lock_timeout`.
    pub lock_timeout: std::time::Duration,
    /// `[database] keep_backups`.
    pub keep_backups: usize,
    /// `[database] ddl_lock_timeout`, `ddl_retries`, `backfill_batch` and
    /// `backfill_pause`: how expand and contract run (PostgreSQL).
    pub expand: hoist_db::expand::ExpandOptions,
    /// The release whose migrations these are, and the directory as its
    /// config names it (`migrations`): messages name a file as
    /// `migrations/0003_x.toml` in release `<id>`, as the user wrote it,
    /// not by the sealed release's path under the site.
    pub shipped_in: Option<(String, PathBuf)>,
}

impl Schema {
    /// `database` for the site in `context`, with migrations from `dir`.
    pub fn new(
        context: &Context,
        database: &Database,
        dir: PathBuf,
    ) -> Result<Schema, DeployError> {
        Ok(Schema {
            target: context.database_target(database)?,
            migrations_dir: dir,
            lock_timeout: database.lock_timeout,
            keep_backups: database.keep_backups,
            expand: hoist_db::expand::ExpandOptions {
                lock_timeout: database.ddl_lock_timeout,
                retries: database.ddl_retries,
                batch_rows: database.backfill_batch,
                batch_pause: database.backfill_pause,
                // `[database] lock_timeout` already means how long one
                // migrator waits for another.
                lock_wait: database.lock_timeout,
                who: format!("{}@{}", hoist_site::user_name(), hoist_site::host_name()),
                ..hoist_db::expand::ExpandOptions::default()
            },
            shipped_in: None,
        })
    }

    /// `database` with the migrations shipped in `release`.
    pub fn for_release(
        context: &Context,
        database: &Database,
        release: &str,
    ) -> Result<Schema, DeployError> {
        let dir = context.site.release_dir(release).join(&database.migrations);
        let mut schema = Schema::new(context, database, dir)?;
        schema.shipped_in = Some((release.to_owned(), PathBuf::from(&database.migrations)));
        Ok(schema)
    }

    /// The migration files. Shipped in a release, each is named (in its
    /// `path`, which only messages use, and in a malformed file's error)
    /// as `` migrations/0003_x.toml` in release `<id> ``: every message
    /// puts a migration's path in backticks.
    pub fn migrations(&self) -> Result<Vec<Migration>, DeployError> {
        let shown = |path: &Path| match &self.shipped_in {
            Some((release, dir)) => match path.file_name() {
                Some(file) => PathBuf::from(format!(
                    "{}` in release `{release}",
                    dir.join(file).display()
                )),
                None => path.to_owned(),
            },
            None => path.to_owned(),
        };
        match hoist_db::load(&self.migrations_dir) {
            Ok(mut migrations) => {
                for migration in &mut migrations {
                    migration.path = shown(&migration.path);
                }
                Ok(migrations)
            }
            Err(hoist_db::DbError::BadMigration { path, problem }) => {
                Err(hoist_db::DbError::BadMigration {
                    path: shown(&path),
                    problem,
                }
                .into())
            }
            Err(error) => Err(error.into()),
        }
    }

    fn options(&self, context: &Context, dry_run: bool) -> RunOptions {
        RunOptions {
            who: format!("{}@{}", hoist_site::user_name(), hoist_site::host_name()),
            lock_timeout: self.lock_timeout,
            backup_dir: Some(backup_dir(context)),
            dry_run,
        }
    }
}

/// Where database backups go: `data/backups/`.
pub fn backup_dir(context: &Context) -> PathBuf {
    context.site.data_dir().join("backups")
}

/// Removes all but the newest `keep` backups (names start with their time).
fn prune_backups(context: &Context, keep: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(backup_dir(context)) else {
        return Vec::new();
    };
    let mut backups: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let extension = path.extension().and_then(|e| e.to_str());
            matches!(extension, Some("sqlite" | "pgdump"))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    backups
        .drain(..excess)
        .filter(|path| std::fs::remove_file(path).is_ok())
        .collect()
}

/// `hoist db status`.
pub fn db_status(schema: &Schema) -> Result<SchemaStatus, DeployError> {
    let mut driver = schema.target.open()?;
    Ok(hoist_db::status(driver.as_mut(), &schema.migrations()?)?)
}

/// `hoist db migrate`: `phase` limits it to one deploy phase.
pub fn db_migrate(
    context: &Context,
    schema: &Schema,
    to: Option<u64>,
    phase: Option<Phase>,
    dry_run: bool,
) -> Result<RunReport, DeployError> {
    run_recorded(
        context,
        schema,
        "db-migrate",
        dry_run,
        |driver, migrations, options| hoist_db::migrate(driver, migrations, to, phase, options),
    )
}

/// `hoist db rollback`, or the downs of `rollback --with-db`.
pub fn db_rollback(
    context: &Context,
    schema: &Schema,
    undo: &Undo,
    dry_run: bool,
) -> Result<RunReport, DeployError> {
    run_recorded(
        context,
        schema,
        "db-rollback",
        dry_run,
        |driver, migrations, options| hoist_db::rollback(driver, migrations, undo, options),
    )
}

/// Runs a migrate or rollback against `schema`'s database with its
/// migrations, prunes backups past `keep_backups` when it took one, and
/// records it in the ledger as `op` (whatever the outcome).
fn run_recorded(
    context: &Context,
    schema: &Schema,
    op: &str,
    dry_run: bool,
    run: impl FnOnce(
        &mut dyn hoist_db::Driver,
        &[Migration],
        &RunOptions,
    ) -> Result<RunReport, hoist_db::DbError>,
) -> Result<RunReport, DeployError> {
    let started = jiff::Timestamp::now();
    let result = (|| {
        let mut driver = schema.target.open()?;
        let migrations = schema.migrations()?;
        let options = schema.options(context, dry_run);
        Ok(run(driver.as_mut(), &migrations, &options)?)
    })();
    if result.as_ref().is_ok_and(|report| report.backup.is_some()) {
        prune_backups(context, schema.keep_backups);
    }
    record_run(context, op, started, dry_run, &result)?;
    result
}

/// What a backup or restore did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// The database.
    pub database: String,
    /// The backup file written (backup) or read (restore).
    pub path: PathBuf,
    /// For a restore: the backup of the state it replaced.
    pub safety_backup: Option<PathBuf>,
}

/// `hoist db backup`.
pub fn db_backup(context: &Context, schema: &Schema) -> Result<BackupReport, DeployError> {
    let started = jiff::Timestamp::now();
    let result = (|| {
        let mut driver = schema.target.open()?;
        let path = hoist_db::backup(driver.as_mut(), &backup_dir(context), "manual")?;
        Ok(BackupReport {
            database: driver.describe(),
            path,
            safety_backup: None,
        })
    })();
    if result.is_ok() {
        prune_backups(context, schema.keep_backups);
    }
    let detail = result
        .as_ref()
        .map(|report| format!("backup: {}", report.path.display()));
    record_one(context, "db-backup", started, detail)?;
    result
}

/// `hoist db restore FILE`: backs the present state up first, so a restore is undoable too.
pub fn db_restore(
    context: &Context,
    schema: &Schema,
    from: &Path,
) -> Result<BackupReport, DeployError> {
    let started = jiff::Timestamp::now();
    let mut driver = match schema.target.open() {
        Ok(driver) => driver,
        Err(error) => {
            let error = DeployError::from(error);
            record_one(context, "db-restore", started, Err(&error))?;
            return Err(error);
        }
    };
    driver.lock(schema.lock_timeout)?;
    let safety = hoist_db::backup(driver.as_mut(), &backup_dir(context), "before-restore");
    let restored = safety.and_then(|safety| driver.restore(from).map(|()| safety));
    driver.unlock();
    let mut event = one_off(context, "db-restore", started);
    match &restored {
        Ok(safety) => {
            event.detail = Some(format!(
                "restored {}; backup: {}",
                from.display(),
                safety.display()
            ))
        }
        Err(error) => {
            event.outcome = Outcome::Failed;
            event.detail = Some(error.to_string());
        }
    }
    context.ledger.record(&event)?;
    let safety = restored?;
    Ok(BackupReport {
        database: driver.describe(),
        path: from.to_owned(),
        safety_backup: Some(safety),
    })
}

/// `hoist db repair N --applied|--undone`.
pub fn db_repair(
    context: &Context,
    schema: &Schema,
    version: u64,
    applied: bool,
) -> Result<(), DeployError> {
    let started = jiff::Timestamp::now();
    let result = (|| {
        let mut driver = schema.target.open()?;
        Ok(hoist_db::repair(driver.as_mut(), version, applied)?)
    })();
    let detail = result.as_ref().map(|()| {
        let state = if applied { "applied" } else { "undone" };
        format!("migration {version} marked {state}")
    });
    record_one(context, "db-repair", started, detail)?;
    result
}

/// The database's schema in one line, for `hoist status`.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaSummary {
    /// The database.
    pub database: String,
    /// Highest applied version.
    pub version: Option<u64>,
    /// Its name.
    pub name: Option<String>,
    /// Pending migrations in the live release.
    pub pending: usize,
    /// A dirty migration, if any.
    pub dirty: Option<String>,
    /// Edited applied migrations.
    pub drift: usize,
}

/// [`SchemaSummary`] of `schema`.
pub fn schema_summary(schema: &Schema) -> Result<SchemaSummary, DeployError> {
    let status = db_status(schema)?;
    let newest = status.applied.iter().max_by_key(|row| row.version);
    Ok(SchemaSummary {
        database: status.database.clone(),
        version: status.version,
        name: newest.map(|row| row.name.clone()),
        pending: status.pending.len(),
        dirty: status.dirty.clone(),
        drift: status.drift.len(),
    })
}

/// `hoist db diff`: applied migrations here against another database.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaDiff {
    /// This site's database.
    pub here: String,
    /// The other one.
    pub there: String,
    /// Applied here only.
    pub only_here: Vec<String>,
    /// Applied there only.
    pub only_there: Vec<String>,
    /// Applied on both with different checksums.
    pub different: Vec<String>,
    /// True when both have exactly the same history.
    pub same: bool,
}

/// Compares two databases' applied migrations.
pub fn db_diff(here: &Target, there: &Target) -> Result<SchemaDiff, DeployError> {
    let mut mine = here.open()?;
    let mut theirs = there.open()?;
    let (a, b) = (mine.applied()?, theirs.applied()?);
    let find = |rows: &[hoist_db::Applied], version| {
        rows.iter().find(|row| row.version == version).cloned()
    };
    let only_here: Vec<String> = a
        .iter()
        .filter(|row| find(&b, row.version).is_none())
        .map(|row| row.name.clone())
        .collect();
    let only_there: Vec<String> = b
        .iter()
        .filter(|row| find(&a, row.version).is_none())
        .map(|row| row.name.clone())
        .collect();
    let different: Vec<String> = a
        .iter()
        .filter(|row| find(&b, row.version).is_some_and(|other| other.checksum != row.checksum))
        .map(|row| row.name.clone())
        .collect();
    Ok(SchemaDiff {
        here: mine.describe(),
        there: theirs.describe(),
        same: only_here.is_empty() && only_there.is_empty() && different.is_empty(),
        only_here,
        only_there,
        different,
    })
}

/// Runs one deploy phase's pending migrations of `release`; reports what ran.
/// With `below`, only those below that version (a declarative migration
/// the switch expands after them); a declarative migration never runs
/// here, nor anything after one.
pub(crate) fn deploy_phase(
    context: &Context,
    schema: &Schema,
    phase: Phase,
    below: Option<u64>,
    reporter: &dyn Reporter,
) -> Result<RunReport, DeployError> {
    let (classic, declarative) = pending_split(schema, phase, below)?;
    if !classic.is_empty() {
        reporter.step(
            "migrate",
            &format!(
                "{} {} migration(s) on {}",
                classic.len(),
                phase.as_str(),
                schema.redacted()
            ),
        );
    }
    if below.is_none() && declarative.is_none() {
        return db_migrate(context, schema, None, Some(phase), false);
    }
    let Some(to) = classic.iter().copied().max() else {
        // Only the declarative one is pending: no lock, no backup, no row.
        return Ok(RunReport {
            database: schema.redacted(),
            direction: "up",
            ran: Vec::new(),
            backup: None,
            dry_run: false,
            version: None,
            sql: Vec::new(),
        });
    };
    db_migrate(context, schema, Some(to), Some(phase), false)
}

/// The versions of `phase`'s pending classic migrations that run before
/// the switch's declarative one (below `below`, and below any pending
/// declarative migration).
pub(crate) fn pending_in(
    schema: &Schema,
    phase: Phase,
    below: Option<u64>,
) -> Result<Vec<u64>, DeployError> {
    Ok(pending_split(schema, phase, below)?.0)
}

/// The first pending declarative migration, if any.
pub(crate) fn pending_declarative(schema: &Schema) -> Result<Option<u64>, DeployError> {
    Ok(pending_split(schema, Phase::Pre, None)?.1)
}

/// `phase`'s pending classic migrations that may run now, and the first
/// pending declarative migration (which they stop before).
fn pending_split(
    schema: &Schema,
    phase: Phase,
    below: Option<u64>,
) -> Result<(Vec<u64>, Option<u64>), DeployError> {
    let mut driver = schema.target.open()?;
    let migrations = schema.migrations()?;
    let status = hoist_db::status(driver.as_mut(), &migrations)?;
    let is_declarative = |version| {
        migrations
            .iter()
            .any(|m| m.version == version && m.is_declarative())
    };
    let declarative = status
        .pending
        .iter()
        .map(|pending| pending.version)
        .filter(|version| is_declarative(*version))
        .min();
    let stop = [below, declarative].into_iter().flatten().min();
    let classic = status
        .pending
        .into_iter()
        .filter(|pending| pending.phase == phase && !is_declarative(pending.version))
        .filter(|pending| stop.is_none_or(|stop| pending.version < stop))
        .map(|pending| pending.version)
        .collect();
    Ok((classic, declarative))
}

/// Applied migrations the older `release` does not have: what it predates.
pub fn predated_by(schema: &Schema) -> Result<Vec<hoist_db::Applied>, DeployError> {
    let status = db_status(schema)?;
    let known: Vec<u64> = schema.migrations()?.iter().map(|m| m.version).collect();
    Ok(status
        .applied
        .into_iter()
        .filter(|row| !known.contains(&row.version))
        .collect())
}

impl Schema {
    /// The database as messages name it: its URL with no password.
    pub(crate) fn redacted(&self) -> String {
        hoist_db::redact(&match &self.target {
            Target::Sqlite(path) => format!("sqlite://{}", path.display()),
            Target::Postgres(url) => url.clone(),
        })
    }
}
