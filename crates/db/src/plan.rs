//! What to run, checked against the history: status, migrate, rollback.

use crate::driver::{Applied, Driver, Step};
use crate::migration::{Migration, Phase};
use crate::DbError;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A migration on disk the database does not have yet.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    /// Its number.
    pub version: u64,
    /// Its file stem.
    pub name: String,
    /// `pre` or `post`.
    pub phase: Phase,
    /// False for `-- hoist: no-transaction`.
    pub transactional: bool,
    /// A declarative (`.toml`) migration: `hoist deploy` expands it; the
    /// classic runner never runs it.
    pub declarative: bool,
}

/// An applied migration whose file changed since.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// The number.
    pub version: u64,
    /// The file stem.
    pub name: String,
    /// The applied migration's name: another than `name` when a
    /// different migration has the same number.
    pub applied_name: String,
    /// Checksum when applied.
    pub applied: String,
    /// Checksum of the file now.
    pub now: String,
}

/// `hoist db status`.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaStatus {
    /// The database (no password).
    pub database: String,
    /// The highest applied version, if any.
    pub version: Option<u64>,
    /// The history, oldest first.
    pub applied: Vec<Applied>,
    /// Files not applied yet, in the order they would run.
    pub pending: Vec<Pending>,
    /// Applied migrations whose file was edited afterwards.
    pub drift: Vec<Drift>,
    /// Applied migrations with no file here (a newer release brought
    /// them), the open expansion left out.
    pub unknown: Vec<String>,
    /// A non-transactional migration that did not finish.
    pub dirty: Option<String>,
}

/// How a migrate or rollback runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Who runs it, for the history (`user@host`).
    pub who: String,
    /// How long to wait for another migrator.
    pub lock_timeout: Duration,
    /// Where backups go; `None` takes none (dry runs, tests).
    pub backup_dir: Option<PathBuf>,
    /// Only plan; change nothing.
    pub dry_run: bool,
}

/// What a migrate or rollback did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The database.
    pub database: String,
    /// `up` or `down`.
    pub direction: &'static str,
    /// The migrations run, in order.
    pub ran: Vec<String>,
    /// The backup taken first, if anything ran.
    pub backup: Option<PathBuf>,
    /// True when nothing was changed on purpose.
    pub dry_run: bool,
    /// The highest applied version afterwards.
    pub version: Option<u64>,
    /// On a dry run, the SQL each step would run, so it can be read before
    /// it touches the database; empty otherwise.
    pub sql: Vec<StepSql>,
}

/// One step's SQL, shown by a dry run.
#[derive(Debug, Clone, Serialize)]
pub struct StepSql {
    /// The migration, `0003_add_email`.
    pub name: String,
    /// The SQL that would run (the up, or the down for a rollback).
    pub sql: String,
}

/// Compares the files with the database's history.
pub fn status(driver: &mut dyn Driver, migrations: &[Migration]) -> Result<SchemaStatus, DbError> {
    let applied = driver.applied()?;
    Ok(compare(driver.describe(), applied, migrations))
}

fn compare(database: String, applied: Vec<Applied>, migrations: &[Migration]) -> SchemaStatus {
    let find = |version| applied.iter().find(|row| row.version == version);
    let pending = migrations
        .iter()
        .filter(|migration| find(migration.version).is_none())
        .map(|migration| Pending {
            version: migration.version,
            name: migration.name.clone(),
            phase: migration.phase,
            transactional: migration.transactional,
            declarative: migration.is_declarative(),
        })
        .collect();
    let drift = migrations
        .iter()
        .filter_map(|migration| {
            let row = find(migration.version)?;
            (row.checksum != migration.checksum).then(|| Drift {
                version: migration.version,
                name: migration.name.clone(),
                applied_name: row.name.clone(),
                applied: row.checksum.clone(),
                now: migration.checksum.clone(),
            })
        })
        .collect();
    // An open expansion (phase `expand`) is a newer release's on purpose
    // while the older one serves (a held candidate, a rollback before
    // contract): the expansion part of the status shows it.
    let unknown = applied
        .iter()
        .filter(|row| row.phase != "expand")
        .filter(|row| !migrations.iter().any(|m| m.version == row.version))
        .map(|row| row.name.clone())
        .collect();
    SchemaStatus {
        database,
        version: applied.iter().map(|row| row.version).max(),
        dirty: applied
            .iter()
            .find(|row| row.dirty)
            .map(|row| row.name.clone()),
        applied,
        pending,
        drift,
        unknown,
    }
}

/// A different migration (`drift.name`) has the number of an applied one.
fn number_taken(database: &str, file: String, drift: &Drift) -> DbError {
    DbError::NumberTaken {
        file,
        database: database.to_owned(),
        version: drift.version,
        applied: drift.applied_name.clone(),
        here: drift.name.clone(),
    }
}

/// Refuses a dirty database or an edited migration, naming what to do.
fn refuse_unsafe(status: &SchemaStatus, migrations: &[Migration]) -> Result<(), DbError> {
    if let Some(row) = status.applied.iter().find(|row| row.dirty) {
        return Err(DbError::Dirty {
            database: status.database.clone(),
            migration: row.name.clone(),
            version: row.version,
        });
    }
    if let Some(drift) = status.drift.first() {
        let file = migrations
            .iter()
            .find(|m| m.name == drift.name)
            .map_or(drift.name.clone(), |m| m.path.display().to_string());
        if drift.applied_name != drift.name {
            return Err(number_taken(&status.database, file, drift));
        }
        return Err(DbError::Drift {
            file,
            database: status.database.clone(),
            applied: drift.applied.clone(),
            now: drift.now.clone(),
        });
    }
    Ok(())
}

/// Applies pending migrations in order: all of them, those up to `to`, or
/// only those of `phase`. Takes the lock and a backup first.
pub fn migrate(
    driver: &mut dyn Driver,
    migrations: &[Migration],
    to: Option<u64>,
    phase: Option<Phase>,
    options: &RunOptions,
) -> Result<RunReport, DbError> {
    let driver_expands = driver.expands();
    run_locked(
        driver,
        options,
        "up",
        |status| {
            let mut steps = Vec::new();
            for pending in &status.pending {
                let wanted = to.is_none_or(|to| pending.version <= to)
                    && phase.is_none_or(|phase| pending.phase == phase);
                if wanted && pending.declarative {
                    // Its text is TOML, not SQL: refuse before running anything.
                    return Err(declarative(driver_expands, status, pending));
                }
                if wanted {
                    let migration = migrations
                        .iter()
                        .find(|m| m.version == pending.version)
                        .expect("pending comes from migrations");
                    steps.push(Planned {
                        row: Applied {
                            version: migration.version,
                            name: migration.name.clone(),
                            checksum: migration.checksum.clone(),
                            phase: migration.phase.as_str().to_owned(),
                            applied_at: jiff::Timestamp::now().to_string(),
                            applied_by: options.who.clone(),
                            dirty: false,
                            down: migration.down.clone(),
                        },
                        sql: migration.up.clone(),
                        transactional: migration.transactional,
                    });
                }
            }
            Ok(steps)
        },
        migrations,
    )
}

/// Which applied migrations a rollback undoes.
#[derive(Debug, Clone)]
pub enum Undo {
    /// The newest one.
    Last,
    /// Every one above this version.
    Above(u64),
    /// These versions (e.g. the ones an older release predates).
    Versions(Vec<u64>),
}

/// Runs down migrations, newest first: the down file if present, else the
/// down SQL recorded when the migration was applied.
pub fn rollback(
    driver: &mut dyn Driver,
    migrations: &[Migration],
    undo: &Undo,
    options: &RunOptions,
) -> Result<RunReport, DbError> {
    run_locked(
        driver,
        options,
        "down",
        |status| {
            let last = status.applied.last().map(|row| row.version);
            let mut rows: Vec<&Applied> = status
                .applied
                .iter()
                .filter(|row| match undo {
                    Undo::Last => Some(row.version) == last,
                    Undo::Above(to) => row.version > *to,
                    Undo::Versions(versions) => versions.contains(&row.version),
                })
                .collect();
            rows.sort_by_key(|row| std::cmp::Reverse(row.version));
            rows.into_iter()
                .map(|row| {
                    let file = migrations.iter().find(|m| m.version == row.version);
                    let expanded = matches!(row.phase.as_str(), "expand" | "contract");
                    if expanded || file.is_some_and(Migration::is_declarative) {
                        // Down files do not undo an expansion; abort does.
                        return Err(DbError::DeclarativeRollback {
                            database: status.database.clone(),
                            migration: row.name.clone(),
                            phase: if row.phase == "contract" {
                                "contract"
                            } else {
                                "expand"
                            }
                            .into(),
                        });
                    }
                    let sql = file
                        .and_then(|m| m.down.clone())
                        .or_else(|| row.down.clone())
                        .ok_or_else(|| DbError::NoDown {
                            migration: row.name.clone(),
                        })?;
                    Ok(Planned {
                        row: row.clone(),
                        sql,
                        transactional: file.is_none_or(|m| m.transactional),
                    })
                })
                .collect()
        },
        migrations,
    )
}

/// Why `migrate` will not run `pending`, a declarative migration.
fn declarative(expands: bool, status: &SchemaStatus, pending: &Pending) -> DbError {
    if !expands {
        return DbError::PostgresOnly {
            database: status.database.clone(),
            migration: pending.name.clone(),
        };
    }
    DbError::Declarative {
        database: status.database.clone(),
        migration: pending.name.clone(),
        before: status
            .pending
            .iter()
            .map(|p| p.version)
            .filter(|version| *version < pending.version)
            .max(),
    }
}

struct Planned {
    row: Applied,
    sql: String,
    transactional: bool,
}

fn run_locked(
    driver: &mut dyn Driver,
    options: &RunOptions,
    direction: &'static str,
    plan: impl FnOnce(&SchemaStatus) -> Result<Vec<Planned>, DbError>,
    migrations: &[Migration],
) -> Result<RunReport, DbError> {
    if !options.dry_run {
        driver.lock(options.lock_timeout)?;
    }
    let result = (|| {
        // Read the history only under the lock: another migrator may just have finished.
        let status = status(driver, migrations)?;
        refuse_unsafe(&status, migrations)?;
        let steps = plan(&status)?;
        let mut report = RunReport {
            database: status.database.clone(),
            direction,
            ran: steps.iter().map(|step| step.row.name.clone()).collect(),
            backup: None,
            dry_run: options.dry_run,
            version: status.version,
            sql: Vec::new(),
        };
        if options.dry_run {
            report.sql = steps
                .iter()
                .map(|step| StepSql {
                    name: step.row.name.clone(),
                    sql: step.sql.clone(),
                })
                .collect();
        }
        if options.dry_run || steps.is_empty() {
            return Ok(report);
        }
        if let Some(dir) = &options.backup_dir {
            report.backup = Some(backup(driver, dir, &format!("before-{direction}"))?);
        }
        for step in &steps {
            driver.run(&Step {
                row: &step.row,
                sql: &step.sql,
                transactional: step.transactional,
                up: direction == "up",
            })?;
        }
        report.version = driver.applied()?.iter().map(|row| row.version).max();
        Ok(report)
    })();
    driver.unlock();
    result
}

/// Backs the whole database up into `dir` as `<time>-<label>.<ext>`; returns the file.
pub fn backup(driver: &mut dyn Driver, dir: &Path, label: &str) -> Result<PathBuf, DbError> {
    std::fs::create_dir_all(dir).map_err(|error| DbError::Backup {
        action: "cannot create backup directory",
        path: dir.to_owned(),
        problem: error.to_string(),
    })?;
    let now = jiff::Timestamp::now();
    let stamp = format!(
        "{}{:03}Z",
        now.strftime("%Y%m%dT%H%M%S."),
        now.subsec_millisecond()
    );
    let path = dir.join(format!("{stamp}-{label}.{}", driver.backup_extension()));
    // A backup holds the app's data: its owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    driver.backup(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|error| {
        DbError::Backup {
            action: "cannot make private",
            path: path.clone(),
            problem: error.to_string(),
        }
    })?;
    Ok(path)
}

/// Clears a dirty mark by hand: `applied` keeps the row as finished, else
/// the row goes (the migration counts as never run).
pub fn repair(driver: &mut dyn Driver, version: u64, applied: bool) -> Result<(), DbError> {
    if driver.repair(version, applied)? == 0 {
        return Err(DbError::NotInHistory {
            database: driver.describe(),
            version,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: u64, name: &str, phase: &str) -> Applied {
        Applied {
            version,
            name: name.into(),
            checksum: "c".into(),
            phase: phase.into(),
            applied_at: String::new(),
            applied_by: String::new(),
            dirty: false,
            down: None,
        }
    }

    // Broke: while a held candidate's expansion was open, `db status` of
    // the live release called it "unknown" (applied, not in these
    // migrations), an alarm on every held deploy.
    #[test]
    fn an_open_expansion_was_unknown_to_the_release_it_predates() {
        let applied = vec![
            row(2, "0002_rename", "expand"),
            row(3, "0003_later", "contract"),
        ];
        let status = compare("db".into(), applied, &[]);
        assert_eq!(status.unknown, ["0003_later"]);
    }
}
