//! Shared by the expand tests: a database with a classic base migration
//! applied, a declarative migration file, and a client on each side.
#![allow(dead_code)]

use hoist_db::expand::{ExpandEvent, ExpandOptions, Expanded, Expander, Finished};
use hoist_db::{load, migrate, Migration, RunOptions, Target};
use hoist_testkit::TestPostgres;
use postgres::{Client, NoTls};
use std::time::Duration;

/// A test database whose schema came from `0001_base.up.sql`.
pub struct Fixture {
    /// The database (dropped at the end).
    pub pg: TestPostgres,
    /// The migrations directory.
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// A fresh database with `base` applied as migration 1.
    pub fn new(base: &str) -> Fixture {
        let pg = TestPostgres::start();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("0001_base.up.sql"), base).unwrap();
        let fixture = Fixture { pg, dir };
        let mut driver = Target::Postgres(fixture.pg.url.clone()).open().unwrap();
        let options = RunOptions {
            who: "test@loopback".into(),
            lock_timeout: Duration::from_secs(10),
            backup_dir: None,
            dry_run: false,
        };
        migrate(driver.as_mut(), &fixture.migrations(), None, None, &options).unwrap();
        fixture
    }

    /// Every migration in the directory.
    pub fn migrations(&self) -> Vec<Migration> {
        load(self.dir.path()).unwrap()
    }

    /// Writes `NNNN_name.toml` and returns it, loaded.
    pub fn declarative(&self, version: u64, name: &str, toml: &str) -> Migration {
        let file = format!("{version:04}_{name}.toml");
        std::fs::write(self.dir.path().join(&file), toml).unwrap();
        self.migrations()
            .into_iter()
            .find(|m| m.version == version)
            .unwrap()
    }

    /// An expander with small batches and no pause.
    pub fn expander(&self) -> Expander {
        Expander::connect(&self.pg.url, options()).unwrap()
    }

    /// A client on the old side (base schema only).
    pub fn old(&self) -> Client {
        self.pg.client()
    }

    /// A client on the new side of `schema`, set the way hoist sets a
    /// release's processes: `PGOPTIONS=-c search_path=<schema>,public`.
    pub fn new_side(&self, schema: &str) -> Client {
        let mut config: postgres::Config = self.pg.url.parse().unwrap();
        config.options(&format!("-c search_path={schema},public"));
        config.connect(NoTls).unwrap()
    }

    /// `pg_dump --schema-only` of the database.
    pub fn dump(&self) -> String {
        self.pg.schema_dump()
    }

    /// Expands `migration` for release `v2`, collecting events.
    pub fn expand(&self, migration: &Migration) -> Expanded {
        self.expander()
            .expand(migration, "v2", &mut |_| {})
            .unwrap_or_else(|error| panic!("expand: {error}"))
    }

    /// Contracts.
    pub fn complete(&self) -> Finished {
        self.expander()
            .complete(&mut |_| {})
            .unwrap_or_else(|error| panic!("complete: {error}"))
    }

    /// Aborts.
    pub fn abort(&self) -> Finished {
        self.expander()
            .abort(&mut |_| {})
            .unwrap_or_else(|error| panic!("abort: {error}"))
    }
}

/// Expand settings for tests: small batches so a few rows take several.
pub fn options() -> ExpandOptions {
    ExpandOptions {
        lock_timeout: Duration::from_millis(200),
        retries: 50,
        batch_rows: 2,
        batch_pause: Duration::ZERO,
        base_schema: "public".into(),
        who: "test@loopback".into(),
        lock_wait: Duration::from_secs(60),
        sql_undone: false,
    }
}

/// The rows of `select` (its first column `id`), each as PostgreSQL
/// prints a row: `(1,Ann,ann@x)`, ordered by id.
pub fn rows(client: &mut Client, select: &str) -> Vec<String> {
    client
        .query(
            &format!("SELECT q::text FROM ({select}) q ORDER BY q.id"),
            &[],
        )
        .unwrap_or_else(|error| panic!("{select}: {error}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Runs `sql`, panicking with it on failure.
pub fn exec(client: &mut Client, sql: &str) {
    client
        .batch_execute(sql)
        .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
}

/// A checksum of `select`'s rows, ordered by id.
pub fn checksum(client: &mut Client, select: &str) -> String {
    client
        .query_one(
            &format!("SELECT md5(coalesce(string_agg(q::text, ';' ORDER BY q.id), '')) FROM ({select}) q"),
            &[],
        )
        .unwrap()
        .get(0)
}

/// The steps an event list went through.
pub fn steps(events: &[String]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e.strip_prefix("step ").map(str::to_owned))
        .collect()
}

/// An event as text, for lists.
pub fn describe(event: &ExpandEvent<'_>) -> String {
    match event {
        ExpandEvent::Step(step) => format!("step {}", step.as_str()),
        ExpandEvent::Backfilled { table, done, total } => {
            format!("backfilled {table} {done}/{total}")
        }
        ExpandEvent::Retry { what, attempt } => format!("retry {what} {attempt}"),
    }
}
