//! Regressions from the first user trial of expand and contract: each
//! test is named after what broke, against a real PostgreSQL.

mod expand_util;

use expand_util::{exec, rows, Fixture};
use hoist_db::DbError;

const USERS: &str = "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, cents integer NOT NULL DEFAULT 0);
CREATE TABLE nopk (note text);
INSERT INTO users (name, cents) SELECT 'u' || i, i * 100 FROM generate_series(1, 9) i;\n";

/// Expands `toml` as migration 2 and returns the refusal, checking that
/// nothing was recorded and the schema is as before.
fn refused(db: &Fixture, toml: &str) -> DbError {
    let before = db.dump();
    let migration = db.declarative(2, "bad", toml);
    let error = db
        .expander()
        .expand(&migration, "v2", &mut |_| {})
        .expect_err("expand must refuse");
    assert!(db.expander().status().unwrap().open.is_none(), "{error}");
    assert_eq!(db.dump(), before, "nothing changed: {error}");
    error
}

// Broke: a `sql_type` PostgreSQL does not know passed begin and failed in
// the columns step, after the expansion was recorded.
#[test]
fn an_unknown_sql_type_was_recorded_before_it_failed() {
    let db = Fixture::new(USERS);
    let error = refused(
        &db,
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"score\"\nsql_type = \"no_such_type(3)\"\n",
    );
    let message = error.to_string();
    assert!(matches!(error, DbError::ExpandInvalid { .. }), "{error:?}");
    assert!(
        message.contains("op 1 (add_column): `sql_type` `no_such_type(3)`")
            && message.contains("no_such_type"),
        "{message}"
    );
    let mut old = db.old();
    assert_eq!(rows(&mut old, "SELECT 1 AS id FROM nopk").len(), 0);
    exec(&mut old, "SELECT 1");
}
