//! Schema migrations for the ledger itself, keyed on `PRAGMA user_version`.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id        TEXT NOT NULL UNIQUE,
    op           TEXT NOT NULL,
    release      TEXT,
    from_release TEXT,
    to_release   TEXT,
    outcome      TEXT NOT NULL,
    reason       TEXT,
    detail       TEXT,
    user         TEXT NOT NULL,
    host         TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL
);
CREATE TABLE releases (
    id             TEXT PRIMARY KEY,
    app            TEXT NOT NULL,
    version        TEXT NOT NULL,
    revision       TEXT,
    created_at     TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    files          INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    state          TEXT NOT NULL,
    test_count     INTEGER,
    deployed_at    TEXT,
    deployed_by    TEXT,
    left_live_at   TEXT,
    failure        TEXT
);
"#,
    // The data version live when a switch made its release live (NULL for
    // events of other kinds, and for switches recorded before this column).
    "ALTER TABLE events ADD COLUMN data_version TEXT;",
    // The held candidate of a hold, canary, promote or abort, and the
    // migrations an operation ran (a JSON array); NULL in older rows.
    "ALTER TABLE events ADD COLUMN candidate TEXT; ALTER TABLE events ADD COLUMN migrations TEXT;",
    // The fleet operation a host's row belongs to (`hoist deploy --stage`).
    "ALTER TABLE events ADD COLUMN fleet_op TEXT;",
    // v5: the deployment notes a deploy showed before it switched (the
    // commit subjects and `Deployment:` sections, `hoist notes`); NULL for
    // other operations and older rows. Notification deliveries are rows of
    // op `notify` and need no column.
    "ALTER TABLE events ADD COLUMN notes TEXT;",
];

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}
