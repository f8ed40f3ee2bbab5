//! Expand and contract against a real PostgreSQL: for each operation, a
//! client on the old side (base schema) and one on the new side
//! (`search_path=hoist_v2,public`) write at once, and every row reads
//! right from both, before and after contract.

mod expand_util;

use expand_util::{exec, rows, Fixture};

const USERS: &str = "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO users (name, email) VALUES ('Ann Lee', 'ann@corp.example'), ('Bob Ray', 'bob@mail.example'), ('Cy Twombly', NULL);\n";

#[test]
fn rename_column_both_sides_write_and_read() {
    let db = Fixture::new(USERS);
    let migration = db.declarative(
        2,
        "rename_name",
        "description = \"name becomes full_name\"\n[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n",
    );
    let expanded = db.expand(&migration);
    assert_eq!(expanded.schema, "hoist_v2");
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    exec(
        &mut old,
        "INSERT INTO users (name, email) VALUES ('Old Writer', 'o@x')",
    );
    exec(
        &mut new,
        "INSERT INTO users (full_name, email) VALUES ('New Writer', 'n@x')",
    );
    exec(
        &mut old,
        "UPDATE users SET name = 'Ann Updated' WHERE id = 1",
    );
    exec(
        &mut new,
        "UPDATE users SET full_name = 'Bob Updated' WHERE id = 2",
    );
    let expected = [
        "(1,\"Ann Updated\",ann@corp.example)",
        "(2,\"Bob Updated\",bob@mail.example)",
        "(3,\"Cy Twombly\",)",
        "(4,\"Old Writer\",o@x)",
        "(5,\"New Writer\",n@x)",
    ];
    assert_eq!(
        rows(&mut old, "SELECT id, name, email FROM users"),
        expected
    );
    assert_eq!(
        rows(&mut new, "SELECT id, full_name, email FROM users"),
        expected
    );
    let finished = db.complete();
    assert_eq!(finished.dropped_schemas, ["hoist_v2"]);
    // The new release's session falls through to the contracted base table.
    assert_eq!(
        rows(&mut new, "SELECT id, full_name, email FROM users"),
        expected
    );
    assert!(db.expander().status().unwrap().open.is_none());
}

#[test]
fn add_not_null_column_with_backfill() {
    let db = Fixture::new(USERS);
    let migration = db.declarative(
        2,
        "add_plan",
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"CASE WHEN email LIKE '%@corp.example' THEN 'pro' ELSE 'free' END\"\n",
    );
    let expanded = db.expand(&migration);
    assert_eq!(expanded.backfill[0].done, 3);
    assert!(expanded.backfill[0].finished);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    exec(
        &mut old,
        "INSERT INTO users (name, email) VALUES ('Old Corp', 'o@corp.example')",
    );
    exec(
        &mut new,
        "INSERT INTO users (name, email, plan) VALUES ('New', 'n@x', 'team')",
    );
    exec(&mut new, "UPDATE users SET plan = 'gold' WHERE id = 2");
    exec(
        &mut old,
        "UPDATE users SET email = 'cy@corp.example' WHERE id = 3",
    );
    // NOT NULL holds for the new release already.
    let refused = new.batch_execute("INSERT INTO users (name) VALUES ('No Plan')");
    let refused = refused.unwrap_err();
    let constraint = refused.as_db_error().and_then(|e| e.constraint());
    assert_eq!(constraint, Some("_hoist_nn_plan"), "{refused:?}");
    let expected_old = [
        "(1,\"Ann Lee\",ann@corp.example)",
        "(2,\"Bob Ray\",bob@mail.example)",
        "(3,\"Cy Twombly\",cy@corp.example)",
        "(4,\"Old Corp\",o@corp.example)",
        "(5,New,n@x)",
    ];
    let expected_new = [
        "(1,\"Ann Lee\",ann@corp.example,pro)",
        "(2,\"Bob Ray\",bob@mail.example,gold)",
        "(3,\"Cy Twombly\",cy@corp.example,free)",
        "(4,\"Old Corp\",o@corp.example,pro)",
        "(5,New,n@x,team)",
    ];
    assert_eq!(
        rows(&mut old, "SELECT id, name, email FROM users"),
        expected_old
    );
    assert_eq!(
        rows(&mut new, "SELECT id, name, email, plan FROM users"),
        expected_new
    );
    // The old side cannot see the new column at all.
    assert!(old.batch_execute("SELECT plan FROM users").is_err());
    db.complete();
    assert_eq!(
        rows(&mut new, "SELECT id, name, email, plan FROM users"),
        expected_new
    );
    let not_null: bool = old
        .query_one("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'plan'", &[])
        .unwrap()
        .get(0);
    assert!(not_null, "contract sets NOT NULL");
    let checks: i64 = old
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conname LIKE '_hoist%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(checks, 0);
}
