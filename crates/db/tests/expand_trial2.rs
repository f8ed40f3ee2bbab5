//! Regressions from the second user trial of expand and contract: each
//! test is named after what broke, against a real PostgreSQL.

mod expand_util;

use expand_util::{exec, rows, Fixture};
use hoist_db::DbError;
use postgres::NoTls;

/// A `users` table, and `role`, which may write to it and has no right
/// on hoist's own tables (roles are cluster-wide: one per test).
fn users(role: &str) -> String {
    format!("CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, cents integer NOT NULL DEFAULT 0);
INSERT INTO users (name, cents) SELECT 'user' || i, i * 100 FROM generate_series(1, 9) i;
DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT SELECT, INSERT, UPDATE ON users TO {role};
GRANT USAGE ON SEQUENCE users_id_seq TO {role};\n")
}

/// A client on the old side logged in as `role`.
fn app(db: &Fixture, role: &str) -> postgres::Client {
    let mut config: postgres::Config = db.pg.url.parse().unwrap();
    config.user(role);
    config.connect(NoTls).unwrap()
}

fn drop_role(db: &Fixture, role: &str) {
    exec(&mut db.old(), &format!("DROP OWNED BY {role}"));
    let _ = db.old().batch_execute(&format!("DROP ROLE {role}"));
}

// Broke: a `backfill` that held for every existing row (begin checks them
// all) but failed on a row the old release wrote later (a one-letter
// name) failed that write with `division by zero` in the sync trigger, so
// a user of the live release saw a database error.
#[test]
fn a_backfill_failing_on_a_later_old_write_failed_that_write() {
    let db = Fixture::new(&users("app_n1_a"));
    let migration = db.declarative(
        2,
        "score",
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"score\"\nsql_type = \"integer\"\nnot_null = true\nbackfill = \"100 / (length(name) - 1)\"\n",
    );
    db.expand(&migration);
    let mut app = app(&db, "app_n1_a");
    // The old release's writes go on, as the app's own role.
    exec(&mut app, "INSERT INTO users (name) VALUES ('b')");
    exec(&mut app, "UPDATE users SET name = 'c' WHERE id = 1");
    let status = db.expander().status().unwrap().open.unwrap();
    assert_eq!(status.faults, 1, "{:?}", status.fault_rows);
    assert!(
        status.fault_rows[0].contains("{\"id\": 10}")
            && status.fault_rows[0].contains("division by zero"),
        "{:?}",
        status.fault_rows
    );
    // Row 1 had its score before: an update keeps it (what the new side
    // wrote or the backfill filled stays).
    let mut new = db.new_side("hoist_v2");
    assert_eq!(
        rows(&mut new, "SELECT id, score FROM users WHERE id IN (1, 10)"),
        ["(1,25)", "(10,)"]
    );
    // The new side still gets NOT NULL, as PostgreSQL says it.
    let error = new
        .batch_execute("INSERT INTO users (name, score) VALUES ('new', NULL)")
        .unwrap_err();
    let db_error = error.as_db_error().unwrap();
    assert_eq!(db_error.code().code(), "23502", "{db_error:?}");
    assert!(db_error.message().contains("\"score\""), "{db_error:?}");
    // Contract is refused, naming the row, and changes nothing.
    let error = db.expander().complete(&mut |_| {}).unwrap_err();
    assert!(
        matches!(error, DbError::ExpandFaults { count: 1, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("{\"id\": 10}") && message.contains("division by zero"),
        "{message}"
    );
    assert!(db.expander().status().unwrap().open.is_some());
    // Fixed through the old release: the next write computes it, and
    // contract goes through with the column NOT NULL.
    exec(&mut app, "UPDATE users SET name = 'bob' WHERE id = 10");
    db.complete();
    let mut old = db.old();
    assert_eq!(
        rows(&mut old, "SELECT id, score FROM users WHERE id IN (1, 10)"),
        ["(1,25)", "(10,50)"]
    );
    let not_null: bool = old
        .query_one(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'score'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(not_null);
    let leftover: Option<String> = old
        .query_one("SELECT to_regclass('hoist_expansion_fault')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(leftover, None);
    drop(app);
    drop_role(&db, "app_n1_a");
}

// Broke (same cause): a `change_type` `up` failing on a value the old
// release wrote later failed the write; abort must still leave the
// schema exactly as it was, fault table and all.
#[test]
fn a_change_type_up_failing_on_a_later_old_write_failed_that_write() {
    let db = Fixture::new(&users("app_n1_b"));
    let before = db.dump();
    let migration = db.declarative(
        2,
        "ratio",
        "[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"cents\"\nsql_type = \"numeric\"\nup = \"1000.0 / (cents - 5)\"\ndown = \"(cents * 0)::int + 5\"\n",
    );
    db.expand(&migration);
    let mut app = app(&db, "app_n1_b");
    exec(&mut app, "UPDATE users SET cents = 5 WHERE id = 2");
    assert_eq!(db.expander().status().unwrap().open.unwrap().faults, 1);
    let error = db.expander().complete(&mut |_| {}).unwrap_err();
    assert!(matches!(error, DbError::ExpandFaults { .. }), "{error:?}");
    db.abort();
    assert_eq!(db.dump(), before);
    drop(app);
    drop_role(&db, "app_n1_b");
}

// The way out a refusal names: an operator fixes the row in `psql` by its
// old columns and contract computes it again from them.
#[test]
fn contract_computes_a_fixed_row_again() {
    let db = Fixture::new(&users("app_n1_c"));
    let migration = db.declarative(
        2,
        "ratio",
        "[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"cents\"\nsql_type = \"numeric\"\nup = \"1000.0 / (cents - 5)\"\ndown = \"5\"\n",
    );
    db.expand(&migration);
    let mut app = app(&db, "app_n1_c");
    exec(&mut app, "INSERT INTO users (name, cents) VALUES ('x', 5)");
    let mut old = db.old();
    // Bypassing the trigger, as a careless fix would: contract's own
    // recomputation is what fills the new column.
    exec(
        &mut old,
        "BEGIN; SET LOCAL hoist.backfill = 'on'; UPDATE users SET cents = 15 WHERE id = 10; COMMIT",
    );
    let finished = db.complete();
    assert!(finished.renamed.iter().any(|r| r.contains("cents")));
    assert_eq!(
        rows(&mut old, "SELECT id, cents = 100 FROM users WHERE id = 10"),
        ["(10,t)"]
    );
    drop(app);
    drop_role(&db, "app_n1_c");
}

// Broke: a `backfill` giving NULL on existing rows for a column that
// becomes NOT NULL passed begin; the new release read NULLs and only
// contract found them.
#[test]
fn a_null_backfill_on_existing_rows_of_a_not_null_column_passed_begin() {
    let db = Fixture::new(&users("app_n1_d"));
    let before = db.dump();
    let migration = db.declarative(
        2,
        "tier",
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"tier\"\nsql_type = \"integer\"\nnot_null = true\nbackfill = \"nullif(id % 7, 3)\"\n",
    );
    let error = db
        .expander()
        .expand(&migration, "v2", &mut |_| {})
        .expect_err("a NULL for a NOT NULL column is refused");
    let message = error.to_string();
    assert!(
        message.contains("gives NULL on 1 row(s) of `users`")
            && message.contains("`tier` becomes NOT NULL"),
        "{message}"
    );
    assert!(db.expander().status().unwrap().open.is_none());
    assert_eq!(db.dump(), before);
    drop_role(&db, "app_n1_d");
}

// Broke: a site that revokes EXECUTE on new functions from PUBLIC by
// default made the old release's writes fail on hoist's fault-recording
// function (`permission denied for function`).
#[test]
fn revoked_default_execute_failed_old_writes_on_the_fault_function() {
    let db = Fixture::new(&users("app_n1_e"));
    exec(
        &mut db.old(),
        "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
    );
    let migration = db.declarative(
        2,
        "score",
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"score\"\nsql_type = \"integer\"\nnot_null = true\nbackfill = \"100 / (length(name) - 1)\"\n",
    );
    db.expand(&migration);
    let mut app = app(&db, "app_n1_e");
    exec(&mut app, "INSERT INTO users (name) VALUES ('b')");
    assert_eq!(db.expander().status().unwrap().open.unwrap().faults, 1);
    db.abort();
    exec(
        &mut db.old(),
        "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
    );
    drop(app);
    drop_role(&db, "app_n1_e");
}

// Broke (review): contract computed a recorded row again from its old
// columns even after the new release had written it, overwriting that
// value (or, when the old columns still failed, refusing for good).
#[test]
fn a_row_the_new_release_wrote_after_its_fault_was_computed_again() {
    let db = Fixture::new(&users("app_n1_f"));
    let migration = db.declarative(
        2,
        "ratio",
        "[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"cents\"\nsql_type = \"numeric\"\nup = \"1000.0 / (cents - 5)\"\ndown = \"round(cents)::int\"\n",
    );
    let schema = db.expand(&migration).schema;
    exec(
        &mut app(&db, "app_n1_f"),
        "INSERT INTO users (name, cents) VALUES ('x', 5)",
    );
    exec(
        &mut db.new_side(&schema),
        "UPDATE users SET cents = 42 WHERE id = 10",
    );
    db.complete();
    assert_eq!(
        rows(
            &mut db.old(),
            "SELECT id, cents = 42 FROM users WHERE id = 10"
        ),
        ["(10,t)"]
    );
    drop_role(&db, "app_n1_f");
}

// Broke (review): computing a row again set its key to itself, which a
// `GENERATED ALWAYS` identity key refuses, so every fault on such a table
// blocked contract for good.
#[test]
fn a_fault_on_an_identity_keyed_table_blocked_contract_for_good() {
    let db = Fixture::new("CREATE TABLE items (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\nINSERT INTO items (name) VALUES ('pen'), ('cup');\n");
    let migration = db.declarative(
        2,
        "score",
        "[[op]]\ntype = \"add_column\"\ntable = \"items\"\ncolumn = \"score\"\nsql_type = \"integer\"\nnot_null = true\nbackfill = \"100 / (length(name) - 1)\"\n",
    );
    db.expand(&migration);
    let mut old = db.old();
    exec(&mut old, "INSERT INTO items (name) VALUES ('b')");
    // Mended by hand past the trigger: contract's own computation fills it.
    exec(
        &mut old,
        "BEGIN; SET LOCAL hoist.backfill = 'on'; UPDATE items SET name = 'bob' WHERE id = 3; COMMIT",
    );
    db.complete();
    assert_eq!(
        rows(&mut old, "SELECT id, score FROM items WHERE id = 3"),
        ["(3,50)"]
    );
}

// Broke (review): a contract refused after it had added the NOT NULL
// checks (an index it would lose) left them on the open expansion, and
// the old release's writes the trigger could not compute failed again.
#[test]
fn a_refused_contract_left_checks_that_failed_old_writes() {
    let db = Fixture::new("CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);\nCREATE INDEX users_name ON users (name);\nINSERT INTO users (name) VALUES ('ann'), ('bob');\n");
    let migration = db.declarative(
        2,
        "name",
        "[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"name\"\nsql_type = \"text\"\nup = \"name || (10 / (length(name) - 1))::text\"\ndown = \"name\"\n",
    );
    db.expand(&migration);
    let mut old = db.old();
    let carried: String = old
        .query_one(
            "SELECT indexname::text FROM pg_indexes WHERE indexname LIKE '\\_hoist\\_ix%'",
            &[],
        )
        .unwrap()
        .get(0);
    exec(&mut old, &format!("DROP INDEX \"{carried}\""));
    let error = db.expander().complete(&mut |_| {}).unwrap_err();
    assert!(
        error.to_string().contains("keep index `users_name`"),
        "{error}"
    );
    exec(&mut old, "INSERT INTO users (name) VALUES ('b')");
    let checks: i64 = old
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conname LIKE '\\_hoist\\_nn%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(checks, 0);
    db.abort();
}

// Broke (review): a record anyone forged through the public recording
// function (a key that is not the table's, a made-up side) blocked
// contract for good, naming a row that does not exist.
#[test]
fn a_forged_fault_record_blocked_contract() {
    let db = Fixture::new(&users("app_n1_g"));
    let migration = db.declarative(
        2,
        "score",
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"score\"\nsql_type = \"integer\"\nbackfill = \"100 / (length(name) - 1)\"\n",
    );
    db.expand(&migration);
    let mut app = app(&db, "app_n1_g");
    exec(
        &mut app,
        "SELECT hoist_expansion_fault_record('users', '{\"id\": \"x\"}', '_hoist_new_score', 'old', 'forged', NULL);
         SELECT hoist_expansion_fault_record('users', '{\"id\": 999}', '_hoist_new_score', 'old', 'gone', NULL);
         SELECT hoist_expansion_fault_record('users', '{\"id\": 1}', '_hoist_new_score', 'evil', 'made up', NULL)",
    );
    assert_eq!(db.expander().status().unwrap().open.unwrap().faults, 2);
    db.complete();
    drop(app);
    drop_role(&db, "app_n1_g");
}
