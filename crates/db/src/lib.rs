//! Schema migrations for the app's database, SQLite or PostgreSQL, kept
//! in step with releases.
//!
//! Migrations are files in the release (`NNNN_name.up.sql`, optional
//! `NNNN_name.down.sql`, or a declarative `NNNN_name.toml` that
//! [`expand`] runs in two phases on PostgreSQL; the classic runner here
//! never runs one, and refuses to roll back past one). The database keeps a history table
//! (`hoist_schema_history`) with each migration's checksum, so an edited
//! migration is caught, and its down SQL, so an older release can still
//! undo what a newer one applied.
//!
//! Safety rules, in one place (the runner behind [`migrate`]):
//! - each migration and its history row commit in one transaction;
//! - a `-- hoist: no-transaction` migration is marked dirty first, and a
//!   dirty database is refused until `repair`;
//! - migrators lock (`pg_advisory_lock`, SQLite `BEGIN IMMEDIATE`);
//! - a backup is taken before any change.
//!
//! ```no_run
//! use hoist_db::{load, migrate, RunOptions, Target};
//! let target = Target::parse("sqlite://shared/app.db", "/srv/shop".as_ref()).unwrap();
//! let mut db = target.open().unwrap();
//! let migrations = load("/srv/shop/current/migrations".as_ref()).unwrap();
//! let options = RunOptions { who: "ops@web1".into(), lock_timeout: std::time::Duration::from_secs(30), backup_dir: None, dry_run: false };
//! let report = migrate(db.as_mut(), &migrations, None, None, &options).unwrap();
//! println!("ran {:?}", report.ran);
//! ```

mod driver;
mod error;
pub mod expand;
mod migration;
mod plan;
mod postgres;
mod split;
mod sqlite;
mod target;

pub use driver::{Applied, Driver, Step, HISTORY_TABLE};
pub use error::DbError;
pub use migration::{checksum, load, Migration, Phase};
pub use plan::{
    backup, migrate, repair, rollback, status, Drift, Pending, RunOptions, RunReport, SchemaStatus,
    StepSql, Undo,
};
pub use postgres::{redact, Postgres};
pub use split::statements;
pub use sqlite::{check_integrity, Sqlite};
pub use target::Target;
