//! Migrations against real databases: SQLite files and a real PostgreSQL
//! server (see `hoist_testkit::TestPostgres`). Every scenario runs on both.

use hoist_db::{load, migrate, rollback, status, DbError, Driver, RunOptions, Target, Undo};
use hoist_testkit::TestPostgres;
use std::path::Path;
use std::time::Duration;

/// One database under test, and what keeps it alive.
struct Db {
    target: Target,
    _postgres: Option<TestPostgres>,
    _dir: tempfile::TempDir,
}

impl Db {
    fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        Db {
            target: Target::Sqlite(dir.path().join("app.db")),
            _postgres: None,
            _dir: dir,
        }
    }

    fn postgres() -> Db {
        let postgres = TestPostgres::start();
        Db {
            target: Target::Postgres(postgres.url.clone()),
            _postgres: Some(postgres),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    fn open(&self) -> Box<dyn Driver> {
        self.target.open().unwrap()
    }

    /// Runs a query that returns one integer, through the engine's own client.
    fn count(&self, sql: &str) -> i64 {
        match &self.target {
            Target::Sqlite(path) => rusqlite_count(path, sql),
            Target::Postgres(_) => self
                ._postgres
                .as_ref()
                .unwrap()
                .client()
                .query_one(sql, &[])
                .unwrap()
                .get(0),
        }
    }

    /// Whether a table exists.
    fn has_table(&self, table: &str) -> bool {
        let sql = match self.target {
            Target::Sqlite(_) => format!(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            ),
            _ => format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = '{table}'"
            ),
        };
        self.count(&sql) == 1
    }

    fn columns(&self, table: &str) -> i64 {
        let sql = match self.target {
            Target::Sqlite(_) => format!("SELECT count(*) FROM pragma_table_info('{table}')"),
            _ => format!(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = '{table}'"
            ),
        };
        self.count(&sql)
    }
}

fn rusqlite_count(path: &Path, sql: &str) -> i64 {
    let conn = rusqlite_conn(path);
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

fn rusqlite_conn(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn options(backups: Option<&Path>) -> RunOptions {
    RunOptions {
        who: "test@loopback".into(),
        lock_timeout: Duration::from_secs(10),
        backup_dir: backups.map(Path::to_owned),
        dry_run: false,
    }
}

fn migrations_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

const BASE: &[(&str, &str)] = &[
    (
        "0001_create_users.up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    ),
    ("0001_create_users.down.sql", "DROP TABLE users;\n"),
    (
        "0002_add_email.up.sql",
        "ALTER TABLE users ADD COLUMN email TEXT;\n",
    ),
    (
        "0002_add_email.down.sql",
        "ALTER TABLE users DROP COLUMN email;\n",
    ),
];

fn both(scenario: fn(&Db)) {
    scenario(&Db::sqlite());
    scenario(&Db::postgres());
}

#[test]
fn apply_then_roll_back_step_by_step() {
    both(|db| {
        let dir = migrations_dir(BASE);
        let migrations = load(dir.path()).unwrap();
        let backups = tempfile::tempdir().unwrap();
        let mut driver = db.open();
        let before = status(driver.as_mut(), &migrations).unwrap();
        assert_eq!((before.applied.len(), before.pending.len()), (0, 2));

        let report = migrate(
            driver.as_mut(),
            &migrations,
            None,
            None,
            &options(Some(backups.path())),
        )
        .unwrap();
        assert_eq!(report.ran, ["0001_create_users", "0002_add_email"]);
        assert_eq!(report.version, Some(2));
        assert!(
            report.backup.as_ref().is_some_and(|path| path.is_file()),
            "{report:?}"
        );
        assert_eq!(db.columns("users"), 3);
        let after = status(driver.as_mut(), &migrations).unwrap();
        assert_eq!(
            (
                after.applied.len(),
                after.pending.len(),
                after.dirty.clone()
            ),
            (2, 0, None)
        );

        let again = migrate(driver.as_mut(), &migrations, None, None, &options(None)).unwrap();
        assert!(again.ran.is_empty(), "nothing pending: {again:?}");

        let down = rollback(driver.as_mut(), &migrations, &Undo::Last, &options(None)).unwrap();
        assert_eq!(
            (down.ran.as_slice(), down.version),
            (["0002_add_email".to_owned()].as_slice(), Some(1))
        );
        assert_eq!(db.columns("users"), 2);
        rollback(
            driver.as_mut(),
            &migrations,
            &Undo::Above(0),
            &options(None),
        )
        .unwrap();
        assert!(!db.has_table("users"));
        assert_eq!(
            status(driver.as_mut(), &migrations).unwrap().pending.len(),
            2
        );
    });
}

#[test]
fn an_edited_applied_migration_is_refused_by_name() {
    both(|db| {
        let dir = migrations_dir(BASE);
        let mut driver = db.open();
        migrate(
            driver.as_mut(),
            &load(dir.path()).unwrap(),
            None,
            None,
            &options(None),
        )
        .unwrap();
        // Line endings alone are not an edit.
        let crlf = "ALTER TABLE users ADD COLUMN email TEXT;\r\n";
        std::fs::write(dir.path().join("0002_add_email.up.sql"), crlf).unwrap();
        let migrations = load(dir.path()).unwrap();
        assert!(status(driver.as_mut(), &migrations)
            .unwrap()
            .drift
            .is_empty());

        std::fs::write(
            dir.path().join("0002_add_email.up.sql"),
            "ALTER TABLE users ADD COLUMN mail TEXT;\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("0003_more.up.sql"),
            "CREATE TABLE more (id INTEGER);\n",
        )
        .unwrap();
        let migrations = load(dir.path()).unwrap();
        assert_eq!(status(driver.as_mut(), &migrations).unwrap().drift.len(), 1);
        let error = migrate(driver.as_mut(), &migrations, None, None, &options(None)).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, DbError::Drift { .. }), "{message}");
        assert!(
            message.contains("0002_add_email.up.sql") && message.contains("edited"),
            "{message}"
        );
        assert!(!db.has_table("more"), "nothing ran after the refusal");
    });
}

#[test]
fn a_migration_failing_halfway_leaves_the_database_exactly_as_it_was() {
    both(|db| {
        let mut files = BASE.to_vec();
        files.push((
            "0003_orders.up.sql",
            "CREATE TABLE orders (id INTEGER PRIMARY KEY);\nINSERT INTO orders VALUES (1);\nALTER TABLE users ADD COLUMN age INTEGER;\nINSERT INTO no_such_table VALUES (1);\n",
        ));
        let dir = migrations_dir(&files);
        let migrations = load(dir.path()).unwrap();
        let mut driver = db.open();
        migrate(driver.as_mut(), &migrations, Some(2), None, &options(None)).unwrap();
        let history_before = driver.applied().unwrap();

        let error = migrate(driver.as_mut(), &migrations, None, None, &options(None)).unwrap_err();
        assert!(
            matches!(&error, DbError::Failed { dirty: false, migration, .. } if migration == "0003_orders"),
            "{error}"
        );
        assert!(error.to_string().contains("as it was"), "{error}");
        assert!(!db.has_table("orders"), "the half-made table is gone");
        assert_eq!(db.columns("users"), 3, "the added column is gone");
        assert_eq!(driver.applied().unwrap(), history_before);
    });
}

#[test]
fn a_failed_no_transaction_migration_leaves_a_dirty_mark_until_repaired() {
    both(|db| {
        let mut files = BASE.to_vec();
        files.push((
            "0003_index.up.sql",
            "-- hoist: no-transaction\nCREATE INDEX users_name ON users (name);\nCREATE INDEX users_bad ON users (no_such_column);\n",
        ));
        let dir = migrations_dir(&files);
        let mut driver = db.open();
        let error = migrate(
            driver.as_mut(),
            &load(dir.path()).unwrap(),
            None,
            None,
            &options(None),
        )
        .unwrap_err();
        assert!(
            matches!(error, DbError::Failed { dirty: true, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("dirty"), "{error}");

        // Fixing the file is not enough: a person must say what state the database is in.
        std::fs::write(
            dir.path().join("0003_index.up.sql"),
            "-- hoist: no-transaction\nCREATE INDEX IF NOT EXISTS users_name ON users (name);\n",
        )
        .unwrap();
        let migrations = load(dir.path()).unwrap();
        assert_eq!(
            status(driver.as_mut(), &migrations)
                .unwrap()
                .dirty
                .as_deref(),
            Some("0003_index")
        );
        let refused =
            migrate(driver.as_mut(), &migrations, None, None, &options(None)).unwrap_err();
        let message = refused.to_string();
        assert!(
            matches!(refused, DbError::Dirty { version: 3, .. }),
            "{message}"
        );
        assert!(
            message.contains("hoist db repair 3 --applied") && message.contains("--undone"),
            "{message}"
        );

        driver.repair(3, false).unwrap();
        let report = migrate(driver.as_mut(), &migrations, None, None, &options(None)).unwrap();
        assert_eq!(report.ran, ["0003_index"]);
        assert!(status(driver.as_mut(), &migrations)
            .unwrap()
            .dirty
            .is_none());
    });
}

#[test]
fn a_second_migrator_waits_for_the_first_or_fails_clearly() {
    both(|db| {
        let dir = migrations_dir(BASE);
        let migrations = load(dir.path()).unwrap();
        let mut first = db.open();
        // The first migrator holds the lock (PostgreSQL) or the write lock (SQLite).
        let sqlite_writer = match &db.target {
            Target::Sqlite(path) => {
                let conn = rusqlite_conn(path);
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                Some(conn)
            }
            _ => {
                first.lock(Duration::from_secs(1)).unwrap();
                None
            }
        };
        let mut second = db.open();
        let quick = RunOptions {
            lock_timeout: Duration::from_millis(300),
            ..options(None)
        };
        let error = migrate(second.as_mut(), &migrations, None, None, &quick).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, DbError::Locked { .. }), "{message}");
        assert!(
            message.contains("being migrated by someone else") && message.contains("waited"),
            "{message}"
        );
        assert!(!db.has_table("users"), "the loser changed nothing");

        // Now the second one waits instead, and goes ahead once the first lets go.
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let target = db.target.clone();
        let waiter = std::thread::spawn(move || {
            let mut second = target.open().unwrap();
            started_tx.send(()).unwrap();
            let patient = RunOptions {
                lock_timeout: Duration::from_secs(30),
                ..options(None)
            };
            migrate(second.as_mut(), &migrations, None, None, &patient)
        });
        started_rx.recv().unwrap();
        match sqlite_writer {
            Some(conn) => conn.execute_batch("COMMIT").unwrap(),
            None => first.unlock(),
        }
        let report = waiter.join().unwrap().unwrap();
        assert_eq!(report.version, Some(2));
        assert_eq!(db.columns("users"), 3);
    });
}

#[test]
fn backup_then_restore_brings_schema_and_rows_back() {
    both(|db| {
        let dir = migrations_dir(BASE);
        let migrations = load(dir.path()).unwrap();
        let backups = tempfile::tempdir().unwrap();
        let mut driver = db.open();
        migrate(driver.as_mut(), &migrations, Some(1), None, &options(None)).unwrap();
        match &db.target {
            Target::Sqlite(path) => {
                rusqlite_conn(path)
                    .execute_batch("INSERT INTO users (id, name) VALUES (1, 'ada')")
                    .unwrap();
            }
            _ => db
                ._postgres
                .as_ref()
                .unwrap()
                .client()
                .batch_execute("INSERT INTO users (id, name) VALUES (1, 'ada')")
                .unwrap(),
        }
        let report = migrate(
            driver.as_mut(),
            &migrations,
            None,
            None,
            &options(Some(backups.path())),
        )
        .unwrap();
        let backup = report.backup.unwrap();
        assert_eq!(db.columns("users"), 3);

        driver.restore(&backup).unwrap();
        assert_eq!(db.columns("users"), 2, "schema as before the migration");
        assert_eq!(db.count("SELECT count(*) FROM users"), 1, "rows kept");
        assert_eq!(
            status(driver.as_mut(), &migrations).unwrap().version,
            Some(1)
        );
    });
}

#[test]
fn a_dry_run_changes_nothing() {
    both(|db| {
        let dir = migrations_dir(BASE);
        let migrations = load(dir.path()).unwrap();
        let mut driver = db.open();
        let dry = RunOptions {
            dry_run: true,
            ..options(None)
        };
        let report = migrate(driver.as_mut(), &migrations, None, None, &dry).unwrap();
        assert_eq!((report.ran.len(), report.dry_run), (2, true));
        assert!(!db.has_table("users"));
    });
}
