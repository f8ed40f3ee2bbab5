//! The classic runner and declarative (`.toml`) migrations: it never runs
//! their text as SQL, lists them, and refuses to roll back past them.

mod expand_util;

use expand_util::Fixture;
use hoist_db::expand::{ExpandOptions, Expander};
use hoist_db::{load, migrate, rollback, status, DbError, RunOptions, Target, Undo};
use std::time::Duration;

const RENAME: &str =
    "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n";

fn run_options() -> RunOptions {
    RunOptions {
        who: "test@loopback".into(),
        lock_timeout: Duration::from_secs(10),
        backup_dir: None,
        dry_run: false,
    }
}

#[test]
fn migrate_stops_before_a_declarative_migration_and_rollback_refuses_it() {
    let db = Fixture::new("CREATE TABLE users (id int PRIMARY KEY, name text);\n");
    std::fs::write(
        db.dir.path().join("0002_email.up.sql"),
        "ALTER TABLE users ADD COLUMN email text;\n",
    )
    .unwrap();
    let migration = db.declarative(3, "rename_name", RENAME);
    let migrations = db.migrations();
    let mut driver = Target::Postgres(db.pg.url.clone()).open().unwrap();

    let error = migrate(driver.as_mut(), &migrations, None, None, &run_options()).unwrap_err();
    assert!(
        matches!(&error, DbError::Declarative { migration, before: Some(2), .. } if migration == "0003_rename_name"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("`hoist deploy` expands it") && message.contains("--to 2"),
        "{message}"
    );
    let listed = status(driver.as_mut(), &migrations).unwrap();
    assert_eq!(listed.version, Some(1), "nothing ran");
    let pending: Vec<(u64, bool)> = listed
        .pending
        .iter()
        .map(|p| (p.version, p.declarative))
        .collect();
    assert_eq!(pending, [(2, false), (3, true)]);

    migrate(driver.as_mut(), &migrations, Some(2), None, &run_options()).unwrap();
    db.expand(&migration);
    let listed = status(driver.as_mut(), &migrations).unwrap();
    assert!(listed.pending.is_empty());
    assert_eq!(listed.applied.last().unwrap().phase, "expand");
    assert!(listed.drift.is_empty());
    // Nothing pending: migrate is a no-op, and never runs the TOML.
    let report = migrate(driver.as_mut(), &migrations, None, None, &run_options()).unwrap();
    assert!(report.ran.is_empty());

    let error = rollback(driver.as_mut(), &migrations, &Undo::Last, &run_options()).unwrap_err();
    assert!(error.to_string().contains("`hoist db abort`"), "{error}");
    db.complete();
    let listed = status(driver.as_mut(), &migrations).unwrap();
    assert_eq!(listed.applied.last().unwrap().phase, "contract");
    let error = rollback(
        driver.as_mut(),
        &migrations,
        &Undo::Above(1),
        &run_options(),
    )
    .unwrap_err();
    assert!(matches!(&error, DbError::DeclarativeRollback { phase, .. } if phase == "contract"));
    assert!(error.to_string().contains("new migration"), "{error}");
}

#[test]
fn sqlite_refuses_declarative_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let migrations_dir = dir.path().join("migrations");
    std::fs::create_dir(&migrations_dir).unwrap();
    std::fs::write(
        migrations_dir.join("0001_users.up.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
    )
    .unwrap();
    std::fs::write(migrations_dir.join("0002_rename.toml"), RENAME).unwrap();
    let migrations = load(&migrations_dir).unwrap();
    let mut driver = Target::Sqlite(dir.path().join("app.db")).open().unwrap();
    let error = migrate(driver.as_mut(), &migrations, None, None, &run_options()).unwrap_err();
    assert!(matches!(error, DbError::PostgresOnly { .. }), "{error:?}");
    assert!(error.to_string().contains("PostgreSQL only"), "{error}");
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let refused = Expander::connect(&url, ExpandOptions::default()).unwrap_err();
    assert!(matches!(refused, DbError::BadUrl { .. }), "{refused:?}");
}
