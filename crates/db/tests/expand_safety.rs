//! Expand's safety against a real PostgreSQL: abort restores the schema
//! exactly, DDL waits its `lock_timeout` and retries, a stopped or
//! crashed expansion resumes, and what cannot work is refused up front.

mod expand_util;

use expand_util::{checksum, describe, exec, rows, steps, Fixture};
use hoist_db::expand::{ExpandEvent, ExpandStep, Expander};
use hoist_db::DbError;
use std::sync::mpsc;
use std::time::Duration;

const SHOP: &str = "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text, nick text);
CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL, amount integer NOT NULL, legacy text);
CREATE INDEX orders_amount ON orders (amount);
INSERT INTO users (name, email, nick) SELECT 'User ' || i, 'u' || i || '@x', 'n' || i FROM generate_series(1, 9) i;
INSERT INTO orders SELECT i, 1 + i % 9, i * 100, 'L' || i FROM generate_series(1, 12) i;\n";

/// Every kind of op but `drop_table`, over both tables.
const EVERYTHING: &str = r#"
description = "everything at once"
[[op]]
type = "sql"
up = "CREATE TABLE plans (id int PRIMARY KEY, name text)"
down = "DROP TABLE plans"
[[op]]
type = "add_column"
table = "users"
column = "plan"
sql_type = "text"
not_null = true
default = "'free'"
backfill = "CASE WHEN id % 2 = 0 THEN 'pro' ELSE 'free' END"
[[op]]
type = "rename_column"
table = "users"
from = "nick"
to = "handle"
[[op]]
type = "split_column"
table = "users"
column = "name"
into = [{ name = "first_name", sql_type = "text", up = "split_part(name, ' ', 1)" }, { name = "last_name", sql_type = "text", up = "split_part(name, ' ', 2)" }]
down = "first_name || ' ' || last_name"
[[op]]
type = "change_type"
table = "orders"
column = "amount"
sql_type = "numeric(12,2)"
up = "amount::numeric / 100"
down = "(amount * 100)::integer"
[[op]]
type = "drop_column"
table = "orders"
column = "legacy"
[[op]]
type = "add_constraint"
table = "orders"
name = "orders_user_fk"
foreign_key = { columns = ["user_id"], references = "users" }
[[op]]
type = "add_constraint"
table = "orders"
name = "orders_amount_positive"
check = "amount > 0"
[[op]]
type = "create_index"
table = "users"
name = "users_plan"
columns = ["plan", "lower(email)"]
"#;

const ORIGINAL_USERS: &str = "SELECT id, name, email, nick FROM users";
const ORIGINAL_ORDERS: &str = "SELECT id, user_id, amount, legacy FROM orders";

#[test]
fn abort_leaves_schema_and_rows_as_they_were() {
    let db = Fixture::new(SHOP);
    let mut old = db.old();
    let before = (
        db.dump(),
        checksum(&mut old, ORIGINAL_USERS),
        checksum(&mut old, ORIGINAL_ORDERS),
    );
    let migration = db.declarative(2, "everything", EVERYTHING);
    db.expand(&migration);
    let mut new = db.new_side("hoist_v2");
    assert_eq!(
        rows(
            &mut new,
            "SELECT id, first_name, last_name, handle, plan FROM users WHERE id < 3"
        ),
        ["(1,User,1,n1,free)", "(2,User,2,n2,pro)"]
    );
    assert_eq!(
        rows(&mut new, "SELECT * FROM orders WHERE id = 1"),
        ["(1,2,1.00)"]
    );
    drop(new);
    let finished = db.abort();
    assert_eq!(finished.dropped_schemas, ["hoist_v2"]);
    let after = (
        db.dump(),
        checksum(&mut old, ORIGINAL_USERS),
        checksum(&mut old, ORIGINAL_ORDERS),
    );
    assert_eq!(after, before);
    let history: i64 = old
        .query_one(
            "SELECT count(*) FROM hoist_schema_history WHERE version = 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(history, 0, "abort forgets the migration");
}

#[test]
fn everything_at_once_completes() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(2, "everything", EVERYTHING);
    db.expand(&migration);
    let (mut old, mut new) = (db.old(), db.new_side("hoist_v2"));
    exec(
        &mut old,
        "INSERT INTO users (name, email, nick) VALUES ('Old Side', 'o@x', 'old')",
    );
    exec(&mut new, "INSERT INTO users (first_name, last_name, email, handle) VALUES ('New', 'Side', 'n@x', 'new')");
    exec(
        &mut new,
        "INSERT INTO orders (id, user_id, amount) VALUES (13, 10, 2.50)",
    );
    exec(&mut old, "INSERT INTO orders VALUES (14, 11, 700, 'L14')");
    let users = "SELECT id, first_name, last_name, email, handle, plan FROM users WHERE id > 9";
    let orders = "SELECT * FROM orders WHERE id > 12";
    let expected_users = ["(10,Old,Side,o@x,old,pro)", "(11,New,Side,n@x,new,free)"];
    let expected_orders = ["(13,10,2.50)", "(14,11,7.00)"];
    assert_eq!(rows(&mut new, users), expected_users);
    assert_eq!(rows(&mut new, orders), expected_orders);
    assert_eq!(
        rows(&mut old, "SELECT id, name, nick FROM users WHERE id > 9"),
        ["(10,\"Old Side\",old)", "(11,\"New Side\",new)"]
    );
    assert_eq!(
        rows(&mut old, "SELECT id, amount FROM orders WHERE id > 12"),
        ["(13,250)", "(14,700)"]
    );
    let finished = db.complete();
    assert_eq!(
        finished.dropped,
        ["users.name", "orders.amount", "orders.legacy"]
    );
    assert_eq!(rows(&mut new, users), expected_users);
    assert_eq!(rows(&mut new, orders), expected_orders);
    assert!(new
        .batch_execute("INSERT INTO orders VALUES (15, 1, -1)")
        .is_err());
    // The index of the retyped column is there again, over the new type.
    let index: String = old
        .query_one("SELECT pg_get_indexdef('orders_amount'::regclass)", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        index,
        "CREATE INDEX orders_amount ON public.orders USING btree (amount)"
    );
    let typed: String = old
        .query_one("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'orders_amount'::regclass", &[])
        .unwrap()
        .get(0);
    assert_eq!(typed, "numeric(12,2)");
}

#[test]
fn ddl_waits_its_lock_timeout_and_retries() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(
        2,
        "add_plan",
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\ndefault = \"'free'\"\n",
    );
    // A reader in an open transaction holds ACCESS SHARE on `users`.
    let mut reader = db.old();
    exec(&mut reader, "BEGIN; SELECT count(*) FROM users;");
    let (sender, events) = mpsc::channel();
    let url = db.pg.url.clone();
    let expanding = std::thread::spawn(move || {
        let mut expander = Expander::connect(&url, expand_util::options()).unwrap();
        expander.expand(&migration, "v2", &mut |event| {
            let _ = sender.send(describe(&event));
        })
    });
    let mut seen = Vec::new();
    loop {
        let event = events
            .recv_timeout(Duration::from_secs(60))
            .expect("a retry within a minute");
        let retry = event.starts_with("retry ");
        seen.push(event);
        if retry {
            break;
        }
    }
    assert_eq!(seen.last().unwrap(), "retry add the new columns 1");
    exec(&mut reader, "COMMIT");
    let expanded = expanding.join().unwrap().unwrap();
    assert!(expanded.retries >= 1);
    let mut new = db.new_side("hoist_v2");
    assert_eq!(
        rows(&mut new, "SELECT id, plan FROM users WHERE id = 1"),
        ["(1,free)"]
    );
}

#[test]
fn backfill_resumes_after_its_connection_dies() {
    let db = Fixture::new(SHOP);
    let mut old = db.old();
    exec(
        &mut old,
        "INSERT INTO orders SELECT i, 1, i, NULL FROM generate_series(13, 60) i",
    );
    let migration = db.declarative(
        2,
        "amount_units",
        "[[op]]\ntype = \"change_type\"\ntable = \"orders\"\ncolumn = \"amount\"\nsql_type = \"numeric(12,2)\"\nup = \"amount::numeric / 100\"\ndown = \"(amount * 100)::integer\"\n",
    );
    let mut killer = db.old();
    let mut killed = false;
    let result = db.expander().expand(&migration, "v2", &mut |event| {
        if let ExpandEvent::Backfilled { done, .. } = event {
            if done >= 20 && !killed {
                killed = true;
                exec(&mut killer, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hoist-expand' AND datname = current_database()");
            }
        }
    });
    assert!(
        matches!(
            result,
            Err(DbError::ExpandFailed {
                step: "backfill",
                ..
            })
        ),
        "{result:?}"
    );
    let open = db.expander().status().unwrap().open.unwrap();
    assert_eq!(open.step, ExpandStep::Backfill);
    let stopped_at = open.backfill[0].done;
    assert!((20..60).contains(&stopped_at), "{stopped_at}");
    let mut seen = Vec::new();
    let expanded = db
        .expander()
        .expand(&migration, "v2", &mut |event| seen.push(describe(&event)))
        .unwrap();
    assert!(expanded.resumed);
    assert_eq!(steps(&seen), ["backfill", "constraints", "views"]);
    assert_eq!(expanded.backfill[0].done, 60, "each row once");
    let mut new = db.new_side("hoist_v2");
    let wrong: i64 = new
        .query_one("SELECT count(*) FROM orders o JOIN public.orders p USING (id) WHERE o.amount IS DISTINCT FROM p.amount::numeric / 100", &[])
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
}

/// Steps an expand can crash at; a second expand finishes each.
const EXPAND_STEPS: [ExpandStep; 6] = [
    ExpandStep::Begin,
    ExpandStep::Columns,
    ExpandStep::Triggers,
    ExpandStep::Backfill,
    ExpandStep::Constraints,
    ExpandStep::Views,
];

/// Runs `call` on a thread of its own that panics at `step`, as a
/// `kill -9` would stop it: the connection goes, the open transaction
/// rolls back.
fn crash_at(
    url: &str,
    step: ExpandStep,
    call: impl FnOnce(&mut Expander, &mut dyn FnMut(ExpandEvent<'_>)) + Send + 'static,
) {
    let url = url.to_owned();
    let crashed = std::thread::spawn(move || {
        let mut expander = Expander::connect(&url, expand_util::options()).unwrap();
        call(&mut expander, &mut |event| {
            if matches!(event, ExpandEvent::Step(at) if at == step) {
                panic!("crash at {}", step.as_str());
            }
        });
    })
    .join();
    assert!(crashed.is_err(), "reached {}", step.as_str());
}

#[test]
fn expand_crashed_at_any_step_resumes() {
    for step in EXPAND_STEPS {
        let db = Fixture::new(SHOP);
        let before = db.dump();
        let migration = db.declarative(2, "everything", EVERYTHING);
        let crashing = migration.clone();
        crash_at(&db.pg.url, step, move |expander, events| {
            let _ = expander.expand(&crashing, "v2", events);
        });
        let open = db.expander().status().unwrap().open;
        match step {
            ExpandStep::Begin => assert!(open.is_none()),
            _ => assert_eq!(open.unwrap().step, step),
        }
        let expanded = db.expand(&migration);
        assert_eq!(expanded.resumed, step != ExpandStep::Begin);
        let mut new = db.new_side("hoist_v2");
        assert_eq!(
            rows(
                &mut new,
                "SELECT id, first_name, plan FROM users WHERE id < 3"
            ),
            ["(1,User,free)", "(2,User,pro)"],
            "after a crash at {}",
            step.as_str()
        );
        // Crash the abort too, then abort again: all gone.
        drop(new);
        crash_at(&db.pg.url, ExpandStep::Aborting, |expander, events| {
            let _ = expander.abort(events);
        });
        db.abort();
        assert_eq!(
            db.dump(),
            before,
            "abort after a crash at {}",
            step.as_str()
        );
    }
}

#[test]
fn complete_crashed_resumes() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(2, "everything", EVERYTHING);
    db.expand(&migration);
    crash_at(&db.pg.url, ExpandStep::Completing, |expander, events| {
        let _ = expander.complete(events);
    });
    assert_eq!(
        db.expander().status().unwrap().open.unwrap().step,
        ExpandStep::Completing
    );
    db.complete();
    let mut new = db.new_side("hoist_v2");
    assert_eq!(
        rows(
            &mut new,
            "SELECT id, first_name, handle, plan FROM users WHERE id = 2"
        ),
        ["(2,User,n2,pro)"]
    );
    let again = db.expander().complete(&mut |_| {});
    assert!(
        matches!(again, Err(DbError::NoExpansion { .. })),
        "{again:?}"
    );
}

#[test]
fn a_table_without_primary_key_is_refused_by_name() {
    let db = Fixture::new("CREATE TABLE logs (message text, at timestamptz);\n");
    let before = db.dump();
    let migration = db.declarative(
        2,
        "log_level",
        "[[op]]\ntype = \"add_column\"\ntable = \"logs\"\ncolumn = \"level\"\nsql_type = \"text\"\nbackfill = \"'info'\"\n",
    );
    let error = db
        .expander()
        .expand(&migration, "v2", &mut |_| {})
        .unwrap_err();
    assert!(matches!(&error, DbError::NoPrimaryKey { table, .. } if table == "logs"));
    assert!(error.to_string().contains("table `logs`"), "{error}");
    assert!(db.expander().status().unwrap().open.is_none());
    assert_eq!(db.dump(), before, "nothing was recorded");
}

#[test]
fn a_key_column_cannot_be_replaced() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(
        2,
        "bigint_ids",
        "[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"id\"\nsql_type = \"bigint\"\nup = \"id\"\ndown = \"id\"\n",
    );
    let error = db
        .expander()
        .expand(&migration, "v2", &mut |_| {})
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("column `users.id` is in the primary key"),
        "{error}"
    );
    assert!(db.expander().status().unwrap().open.is_none());
}

#[test]
fn a_second_expansion_waits_for_the_first() {
    let db = Fixture::new(SHOP);
    let first = db.declarative(
        2,
        "rename_nick",
        "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"nick\"\nto = \"handle\"\n",
    );
    db.expand(&first);
    let second = db.declarative(
        3,
        "drop_legacy",
        "[[op]]\ntype = \"drop_column\"\ntable = \"orders\"\ncolumn = \"legacy\"\n",
    );
    let error = db
        .expander()
        .expand(&second, "v3", &mut |_| {})
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("`0002_rename_nick` is open") && message.contains("hoist db complete"),
        "{message}"
    );
    // The same expansion again only resumes (here: nothing to do).
    assert!(db.expand(&first).resumed);
}

#[test]
fn a_joining_release_writes_as_the_new_side() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(
        2,
        "amount_units",
        "[[op]]\ntype = \"change_type\"\ntable = \"orders\"\ncolumn = \"amount\"\nsql_type = \"numeric(12,2)\"\nup = \"amount::numeric / 100\"\ndown = \"(amount * 100)::integer\"\n",
    );
    db.expand(&migration);
    assert_eq!(
        db.expander().join("v3").unwrap().as_deref(),
        Some("hoist_v3")
    );
    let (mut old, mut v3) = (db.old(), db.new_side("hoist_v3"));
    exec(
        &mut v3,
        "INSERT INTO orders (id, user_id, amount) VALUES (20, 1, 4.20)",
    );
    assert_eq!(
        rows(&mut old, "SELECT id, amount FROM orders WHERE id = 20"),
        ["(20,420)"]
    );
    let status = db.expander().status().unwrap();
    let schemas: Vec<&str> = status
        .view_schemas
        .iter()
        .map(|v| v.schema.as_str())
        .collect();
    assert_eq!(schemas, ["hoist_v2", "hoist_v3"]);
    assert_eq!(status.open.unwrap().new_releases, ["v2", "v3"]);
    db.complete();
    assert_eq!(
        rows(&mut v3, "SELECT id, amount FROM orders WHERE id = 20"),
        ["(20,4.20)"]
    );
    assert_eq!(db.expander().join("v4").unwrap(), None);
}

#[test]
fn drop_table_goes_at_contract() {
    let db = Fixture::new(
        "CREATE TABLE sessions (id int PRIMARY KEY);\nCREATE TABLE keep (id int PRIMARY KEY);\n",
    );
    let migration = db.declarative(
        2,
        "drop_sessions",
        "[[op]]\ntype = \"drop_table\"\ntable = \"sessions\"\n",
    );
    db.expand(&migration);
    let mut old = db.old();
    exec(&mut old, "INSERT INTO sessions VALUES (1)");
    let finished = db.complete();
    assert_eq!(finished.dropped, ["sessions"]);
    assert!(old.batch_execute("SELECT 1 FROM sessions").is_err());
}

#[test]
fn view_grants_mirror_the_base_tables() {
    let role = format!("hoist_test_app_{}", std::process::id());
    let db = Fixture::new(&format!(
        "CREATE ROLE {role};
         CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
         GRANT SELECT, INSERT, UPDATE ON users TO {role};
         GRANT USAGE ON SEQUENCE users_id_seq TO {role};\n"
    ));
    let migration = db.declarative(
        2,
        "rename_name",
        "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n",
    );
    db.expand(&migration);
    let mut new = db.new_side("hoist_v2");
    let privileges: Vec<bool> = ["SELECT", "INSERT", "UPDATE", "DELETE"]
        .iter()
        .map(|privilege| {
            new.query_one(
                "SELECT has_table_privilege($1, 'hoist_v2.users', $2)",
                &[&role, privilege],
            )
            .unwrap()
            .get(0)
        })
        .collect();
    assert_eq!(privileges, [true, true, true, false]);
    exec(&mut new, &format!("SET ROLE {role}"));
    exec(
        &mut new,
        "INSERT INTO users (full_name) VALUES ('As The App')",
    );
    assert_eq!(
        rows(&mut new, "SELECT id, full_name FROM users"),
        ["(1,\"As The App\")"]
    );
    exec(&mut new, "RESET ROLE");
    db.abort();
    // Roles outlive databases: this one goes with the test.
    exec(&mut new, &format!("DROP OWNED BY {role}; DROP ROLE {role}"));
}

#[test]
fn a_failed_step_names_it_and_abort_cleans_up() {
    let db = Fixture::new(SHOP);
    let before = db.dump();
    let migration = db.declarative(
        2,
        "bad_type",
        "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"score\"\nsql_type = \"int\"\n[[op]]\ntype = \"sql\"\nup = \"SELECT no_such_function()\"\ndown = \"SELECT 1\"\n",
    );
    let error = db
        .expander()
        .expand(&migration, "v2", &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(
            error,
            DbError::ExpandFailed {
                step: "columns",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("no_such_function") && message.contains("hoist db abort"),
        "{message}"
    );
    db.abort();
    assert_eq!(db.dump(), before);
}

// Broke: abort dropped (CASCADE) a schema of the app's that was named
// like the release's view schema, with everything in it.
#[test]
fn abort_dropped_a_same_named_schema_hoist_did_not_make() {
    let db = Fixture::new(&format!(
        "{SHOP}CREATE SCHEMA hoist_v2; CREATE TABLE hoist_v2.precious (id int);\n"
    ));
    let migration = db.declarative(
        2,
        "rename_nick",
        "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"nick\"\nto = \"handle\"\n",
    );
    let error = db
        .expander()
        .expand(&migration, "v2", &mut |_| {})
        .unwrap_err();
    assert!(error.to_string().contains("schema `hoist_v2`"), "{error}");
    db.abort();
    let mut old = db.old();
    exec(&mut old, "SELECT * FROM hoist_v2.precious");
}

// Broke: a `create_index` or `add_constraint` op named like an index or a
// constraint the app had; expand adopted the index (or failed on the
// constraint), and abort then dropped the app's own.
#[test]
fn abort_dropped_the_apps_index_named_like_a_create_index_op() {
    let db = Fixture::new(&format!(
        "{SHOP}CREATE INDEX users_email ON users (email);
         ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0);\n"
    ));
    let before = db.dump();
    for (op, named) in [
        ("[[op]]\ntype = \"create_index\"\ntable = \"users\"\nname = \"users_email\"\ncolumns = [\"lower(email)\"]\n", "a relation `public.users_email`"),
        ("[[op]]\ntype = \"add_constraint\"\ntable = \"orders\"\nname = \"orders_amount_positive\"\ncheck = \"amount < 100000\"\n", "a constraint `orders_amount_positive` on `orders`"),
    ] {
        let migration = db.declarative(2, "named", op);
        let result = db.expander().expand(&migration, "v2", &mut |_| {});
        if result.is_ok() || matches!(result, Err(DbError::ExpandFailed { .. })) {
            let _ = db.expander().abort(&mut |_| {});
        }
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains(&format!("names {named}, which exists already")),
            "{message}"
        );
        assert_eq!(db.dump(), before, "the app's own is still there");
    }
}

// Broke: a hoist killed during CREATE INDEX CONCURRENTLY left its backend
// building (PostgreSQL notices a dead client only when it next talks to
// it); the resumed step timed out behind that build, again and again.
#[test]
fn a_killed_hoists_index_build_blocked_the_resumed_step() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(
        2,
        "email_index",
        "[[op]]\ntype = \"create_index\"\ntable = \"users\"\nname = \"users_lower_email\"\ncolumns = [\"lower(email)\"]\n",
    );
    let crashing = migration.clone();
    crash_at(
        &db.pg.url,
        ExpandStep::Constraints,
        move |expander, events| {
            let _ = expander.expand(&crashing, "v2", events);
        },
    );
    // A writer's open transaction holds the build up, as a busy site's would.
    let mut writer = db.old();
    exec(
        &mut writer,
        "BEGIN; UPDATE users SET nick = nick WHERE id = 1;",
    );
    // The killed hoist's backend, still building.
    let mut config: postgres::Config = db.pg.url.parse().unwrap();
    config.application_name(hoist_db::expand::APPLICATION_NAME);
    let mut orphan = config.connect(postgres::NoTls).unwrap();
    let orphan_pid: i32 = orphan
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    exec(&mut orphan, "SET lock_timeout = 0");
    let building = std::thread::spawn(move || {
        orphan.batch_execute("CREATE INDEX CONCURRENTLY users_lower_email ON users (lower(email))")
    });
    let mut watch = db.old();
    let waiting = |watch: &mut postgres::Client, wanted: &str| {
        let sql = "SELECT coalesce(wait_event_type, '') FROM pg_stat_activity WHERE pid = $1";
        for _ in 0..1500 {
            let row = watch.query_opt(sql, &[&orphan_pid]).unwrap();
            let state = row
                .map(|r| r.get::<_, String>(0))
                .unwrap_or_else(|| "gone".into());
            if state == wanted {
                return true;
            }
            // Polling the server for the backend's state.
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    };
    assert!(
        waiting(&mut watch, "Lock"),
        "the build waits for the writer"
    );
    let url = db.pg.url.clone();
    let resumed = std::thread::spawn(move || {
        Expander::connect(&url, expand_util::options())
            .unwrap()
            .expand(&migration, "v2", &mut |_| {})
    });
    let ended = waiting(&mut watch, "gone");
    exec(&mut writer, "COMMIT");
    assert!(ended, "the resumed expand ended the killed hoist's build");
    assert!(building.join().unwrap().is_err());
    let expanded = resumed.join().unwrap().unwrap();
    assert!(expanded.resumed);
    let valid: bool = watch
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_lower_email'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
}

// Broke: a view of the app's over a column (or table) the change drops
// passed expand, and contract, after the deploy, failed on it.
#[test]
fn a_view_over_a_dropped_column_failed_contract() {
    let db = Fixture::new(&format!(
        "{SHOP}CREATE VIEW order_report AS SELECT id, legacy FROM orders;
         CREATE TABLE sessions (id int PRIMARY KEY, user_id int);
         CREATE TABLE visits (id int PRIMARY KEY, session_id int CONSTRAINT visits_session_fk REFERENCES sessions);\n"
    ));
    let before = db.dump();
    let migration = db.declarative(
        2,
        "drop_legacy",
        "[[op]]\ntype = \"drop_column\"\ntable = \"orders\"\ncolumn = \"legacy\"\n[[op]]\ntype = \"drop_table\"\ntable = \"sessions\"\n",
    );
    let error = db
        .expander()
        .expand(&migration, "v2", &mut |_| {})
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("view `order_report` reads column `orders.legacy`, which contract drops")
            && message
                .contains("foreign key `visits_session_fk` of `visits` points at table `sessions`"),
        "{message}"
    );
    assert_eq!(db.dump(), before, "nothing was recorded");
}
