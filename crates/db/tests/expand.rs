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
    // As PostgreSQL's own NOT NULL says it: code 23502, the column.
    let error = refused.as_db_error().expect("a database error");
    assert_eq!(error.code().code(), "23502", "{refused:?}");
    assert_eq!(error.column(), Some("plan"), "{refused:?}");
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

#[test]
fn change_type_with_up_and_down() {
    let db = Fixture::new(
        "CREATE TABLE orders (id bigserial PRIMARY KEY, amount integer NOT NULL DEFAULT 100, note text);
         INSERT INTO orders (amount, note) VALUES (1250, 'a'), (99, 'b'), (0, 'c');\n",
    );
    let migration = db.declarative(
        2,
        "amount_in_units",
        "[[op]]\ntype = \"change_type\"\ntable = \"orders\"\ncolumn = \"amount\"\nsql_type = \"numeric(12,2)\"\nup = \"amount::numeric / 100\"\ndown = \"(amount * 100)::integer\"\n",
    );
    db.expand(&migration);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    exec(
        &mut old,
        "INSERT INTO orders (amount, note) VALUES (500, 'old')",
    );
    exec(
        &mut new,
        "INSERT INTO orders (amount, note) VALUES (7.25, 'new')",
    );
    exec(&mut old, "UPDATE orders SET amount = 1999 WHERE id = 2");
    exec(&mut new, "UPDATE orders SET amount = 3.10 WHERE id = 3");
    // An update of another column leaves the new value as the new side wrote it.
    exec(&mut old, "UPDATE orders SET note = 'n' WHERE id = 5");
    // The column's default holds on the new side too, through `up`.
    exec(&mut new, "INSERT INTO orders (note) VALUES ('default')");
    assert_eq!(
        rows(&mut old, "SELECT id, amount, note FROM orders"),
        [
            "(1,1250,a)",
            "(2,1999,b)",
            "(3,310,c)",
            "(4,500,old)",
            "(5,725,n)",
            "(6,100,default)"
        ]
    );
    let expected = [
        "(1,12.50,a)",
        "(2,19.99,b)",
        "(3,3.10,c)",
        "(4,5.00,old)",
        "(5,7.25,n)",
        "(6,1.00,default)",
    ];
    assert_eq!(
        rows(&mut new, "SELECT id, amount, note FROM orders"),
        expected
    );
    let finished = db.complete();
    assert_eq!(finished.dropped, ["orders.amount"]);
    assert_eq!(
        rows(&mut new, "SELECT id, amount, note FROM orders"),
        expected
    );
    let (sql_type, not_null): (String, bool) = {
        let row = old
            .query_one("SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'amount'", &[])
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((sql_type.as_str(), not_null), ("numeric(12,2)", true));
    exec(&mut new, "INSERT INTO orders (note) VALUES ('after')");
    assert_eq!(
        rows(&mut new, "SELECT id, amount, note FROM orders WHERE id > 6"),
        ["(7,1.00,after)"]
    );
}

const SPLIT: &str = "[[op]]\ntype = \"split_column\"\ntable = \"users\"\ncolumn = \"name\"\ninto = [{ name = \"first_name\", sql_type = \"text\", up = \"split_part(name, ' ', 1)\" }, { name = \"last_name\", sql_type = \"text\", up = \"nullif(substr(name, length(split_part(name, ' ', 1)) + 2), '')\" }]\ndown = \"concat_ws(' ', first_name, last_name)\"\n";

#[test]
fn split_column_into_two() {
    let db = Fixture::new(USERS);
    let migration = db.declarative(2, "split_name", SPLIT);
    db.expand(&migration);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    exec(
        &mut old,
        "INSERT INTO users (name, email) VALUES ('Old Van Dyke', 'o@x')",
    );
    exec(
        &mut new,
        "INSERT INTO users (first_name, last_name, email) VALUES ('New', 'Person', 'n@x')",
    );
    exec(
        &mut new,
        "UPDATE users SET last_name = 'Rayburn' WHERE id = 2",
    );
    exec(&mut old, "UPDATE users SET name = 'Cy' WHERE id = 3");
    assert_eq!(
        rows(&mut old, "SELECT id, name, email FROM users"),
        [
            "(1,\"Ann Lee\",ann@corp.example)",
            "(2,\"Bob Rayburn\",bob@mail.example)",
            "(3,Cy,)",
            "(4,\"Old Van Dyke\",o@x)",
            "(5,\"New Person\",n@x)",
        ]
    );
    let expected = [
        "(1,Ann,Lee,ann@corp.example)",
        "(2,Bob,Rayburn,bob@mail.example)",
        "(3,Cy,,)",
        "(4,Old,\"Van Dyke\",o@x)",
        "(5,New,Person,n@x)",
    ];
    assert_eq!(
        rows(
            &mut new,
            "SELECT id, first_name, last_name, email FROM users"
        ),
        expected
    );
    // The new side no longer has `name`.
    assert!(new.batch_execute("SELECT name FROM users").is_err());
    db.complete();
    assert_eq!(
        rows(
            &mut new,
            "SELECT id, first_name, last_name, email FROM users"
        ),
        expected
    );
}

#[test]
fn merge_columns_into_one() {
    let db = Fixture::new(
        "CREATE TABLE people (id int PRIMARY KEY, first_name text, last_name text);
         INSERT INTO people VALUES (1, 'Ann', 'Lee'), (2, 'Bob', NULL);\n",
    );
    let migration = db.declarative(
        2,
        "merge_name",
        "[[op]]\ntype = \"merge_columns\"\ntable = \"people\"\ncolumns = [\"first_name\", \"last_name\"]\ninto = { name = \"name\", sql_type = \"text\", up = \"concat_ws(' ', first_name, last_name)\" }\ndown = { first_name = \"split_part(name, ' ', 1)\", last_name = \"nullif(split_part(name, ' ', 2), '')\" }\n",
    );
    db.expand(&migration);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    exec(&mut old, "INSERT INTO people VALUES (3, 'Old', 'Side')");
    exec(
        &mut new,
        "INSERT INTO people (id, name) VALUES (4, 'New Side')",
    );
    exec(&mut new, "UPDATE people SET name = 'Bob Ray' WHERE id = 2");
    exec(
        &mut old,
        "UPDATE people SET last_name = 'Leigh' WHERE id = 1",
    );
    assert_eq!(
        rows(&mut old, "SELECT id, first_name, last_name FROM people"),
        [
            "(1,Ann,Leigh)",
            "(2,Bob,Ray)",
            "(3,Old,Side)",
            "(4,New,Side)"
        ]
    );
    let expected = [
        "(1,\"Ann Leigh\")",
        "(2,\"Bob Ray\")",
        "(3,\"Old Side\")",
        "(4,\"New Side\")",
    ];
    assert_eq!(rows(&mut new, "SELECT id, name FROM people"), expected);
    db.complete();
    assert_eq!(rows(&mut new, "SELECT id, name FROM people"), expected);
}

#[test]
fn drop_column_with_a_down_value() {
    let db = Fixture::new(
        "CREATE TABLE items (id int PRIMARY KEY, title text NOT NULL, legacy_code text NOT NULL);
         INSERT INTO items VALUES (1, 'a', 'A-1');\n",
    );
    let migration = db.declarative(
        2,
        "drop_legacy",
        "[[op]]\ntype = \"drop_column\"\ntable = \"items\"\ncolumn = \"legacy_code\"\ndown = \"'N-' || id\"\n",
    );
    db.expand(&migration);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    exec(&mut old, "INSERT INTO items VALUES (2, 'b', 'B-2')");
    exec(&mut new, "INSERT INTO items (id, title) VALUES (3, 'c')");
    exec(&mut new, "UPDATE items SET title = 'aa' WHERE id = 1");
    assert_eq!(
        rows(&mut old, "SELECT id, title, legacy_code FROM items"),
        ["(1,aa,A-1)", "(2,b,B-2)", "(3,c,N-3)"]
    );
    let expected = ["(1,aa)", "(2,b)", "(3,c)"];
    assert_eq!(rows(&mut new, "SELECT * FROM items"), expected);
    let finished = db.complete();
    assert_eq!(finished.dropped, ["items.legacy_code"]);
    assert_eq!(rows(&mut new, "SELECT * FROM items"), expected);
}

#[test]
fn add_constraint_check_and_foreign_key() {
    let db = Fixture::new(
        "CREATE TABLE teams (id int PRIMARY KEY);
         CREATE TABLE members (id int PRIMARY KEY, team_id int, age int);
         INSERT INTO teams VALUES (1), (2);
         INSERT INTO members VALUES (1, 1, 30), (2, 2, 40);\n",
    );
    let migration = db.declarative(
        2,
        "member_rules",
        "[[op]]\ntype = \"add_constraint\"\ntable = \"members\"\nname = \"members_age_positive\"\ncheck = \"age > 0\"\n[[op]]\ntype = \"add_constraint\"\ntable = \"members\"\nname = \"members_team_fk\"\nforeign_key = { columns = [\"team_id\"], references = \"teams\", on_delete = \"cascade\" }\n",
    );
    db.expand(&migration);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    // Tables with no new shape get no view: the new side reads the base table.
    let views: i64 = old
        .query_one(
            "SELECT count(*) FROM pg_views WHERE schemaname = 'hoist_v2'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(views, 0);
    exec(&mut old, "INSERT INTO members VALUES (3, 1, 20)");
    exec(&mut new, "INSERT INTO members VALUES (4, 2, 25)");
    for (client, sql) in [
        (&mut old, "INSERT INTO members VALUES (5, 1, -1)"),
        (&mut new, "INSERT INTO members VALUES (6, 9, 20)"),
    ] {
        assert!(client.batch_execute(sql).is_err(), "{sql} was let through");
    }
    let validated: Vec<bool> = old
        .query("SELECT convalidated FROM pg_constraint WHERE conname LIKE 'members_%' AND contype IN ('c', 'f') ORDER BY conname", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(validated, [true, true]);
    exec(&mut new, "DELETE FROM teams WHERE id = 2");
    let expected = ["(1,1,30)", "(3,1,20)"];
    assert_eq!(rows(&mut old, "SELECT * FROM members"), expected);
    db.complete();
    assert_eq!(rows(&mut new, "SELECT * FROM members"), expected);
}

#[test]
fn create_index_concurrently_on_a_new_column() {
    let db = Fixture::new(USERS);
    let migration = db.declarative(
        2,
        "email_index",
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"handle\"\nsql_type = \"text\"\nbackfill = \"lower(split_part(name, ' ', 1))\"\n[[op]]\ntype = \"create_index\"\ntable = \"users\"\nname = \"users_handle\"\ncolumns = [\"handle\"]\nunique = true\n",
    );
    db.expand(&migration);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    let valid: bool = old
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_handle'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
    exec(&mut old, "INSERT INTO users (name) VALUES ('Dee Old')");
    // Unique through both sides: the old side's row took `ann` already.
    assert!(new
        .batch_execute("INSERT INTO users (name, handle) VALUES ('X', 'ann')")
        .is_err());
    exec(
        &mut new,
        "INSERT INTO users (name, handle) VALUES ('Eve New', 'eve')",
    );
    let expected = ["(1,ann)", "(2,bob)", "(3,cy)", "(4,dee)", "(6,eve)"];
    assert_eq!(rows(&mut new, "SELECT id, handle FROM users"), expected);
    db.complete();
    assert_eq!(rows(&mut new, "SELECT id, handle FROM users"), expected);
    let definition: String = old
        .query_one("SELECT pg_get_indexdef('users_handle'::regclass)", &[])
        .unwrap()
        .get(0);
    assert!(definition.contains("(handle)"), "{definition}");
}

#[test]
fn sql_op_runs_at_expand_and_its_down_at_abort() {
    let db = Fixture::new(USERS);
    let before = db.dump();
    let migration = db.declarative(
        2,
        "plans_table",
        "[[op]]\ntype = \"sql\"\nup = \"CREATE TABLE plans (id int PRIMARY KEY, name text NOT NULL); INSERT INTO plans VALUES (1, 'free')\"\ndown = \"DROP TABLE plans\"\n[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan_id\"\nsql_type = \"int\"\ndefault = \"1\"\n[[op]]\ntype = \"add_constraint\"\ntable = \"users\"\nname = \"users_plan_fk\"\nforeign_key = { columns = [\"plan_id\"], references = \"plans\" }\n",
    );
    db.expand(&migration);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    exec(&mut old, "INSERT INTO users (name) VALUES ('Old')");
    exec(&mut new, "INSERT INTO users (name) VALUES ('New')");
    assert_eq!(
        rows(
            &mut new,
            "SELECT u.id, u.plan_id, p.name FROM users u JOIN plans p ON p.id = u.plan_id"
        ),
        [
            "(1,1,free)",
            "(2,1,free)",
            "(3,1,free)",
            "(4,1,free)",
            "(5,1,free)"
        ]
    );
    drop(new);
    db.abort();
    assert_eq!(db.dump(), before, "abort leaves the schema as it was");
}
