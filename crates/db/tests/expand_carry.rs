//! What contract would drop with a replaced column: its indexes are built
//! again over the new column and keep their names; a check, a foreign key
//! or an index hoist cannot rebuild is refused at begin, named.

mod expand_util;

use expand_util::Fixture;
use hoist_db::expand::{ExpandEvent, ExpandStep};
use hoist_db::DbError;
use postgres::Client;

const SHOP: &str = "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text CONSTRAINT users_email_key UNIQUE, nick text);
CREATE INDEX users_name_lower ON users (lower(name)) WHERE name <> '';
CREATE INDEX users_nick ON users USING hash (nick);
CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL CONSTRAINT orders_user_fk REFERENCES users, amount integer NOT NULL CONSTRAINT orders_amount_positive CHECK (amount > 0));
INSERT INTO users (name, email, nick) SELECT 'User ' || i, 'u' || i || '@x', 'n' || i FROM generate_series(1, 9) i;
INSERT INTO orders SELECT i, 1 + i % 9, i * 100 FROM generate_series(1, 12) i;\n";

/// `name` and `nick` change type; both have an index.
const RETYPE_NAME: &str = "[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"name\"\nsql_type = \"varchar(200)\"\nup = \"name\"\ndown = \"name\"\n[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"nick\"\nsql_type = \"varchar(50)\"\nup = \"nick\"\ndown = \"nick\"\n";

/// `pg_get_indexdef` of each index of `table`, by name.
fn indexes(client: &mut Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = $1::text::regclass AND indisvalid ORDER BY indexrelid::regclass::text",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The constraints of `table`: `name type`.
fn constraints(client: &mut Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT conname || ' ' || contype::text FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype <> 'n' ORDER BY 1",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

// Broke: contract dropped the old column and its indexes with it, so the
// site lost `users_name_lower` and `users_nick` (and their query plans).
#[test]
fn change_type_dropped_the_columns_index_at_contract() {
    let db = Fixture::new(SHOP);
    let mut old = db.old();
    let before = indexes(&mut old, "users");
    let migration = db.declarative(2, "retype_name", RETYPE_NAME);
    db.expand(&migration);
    let during = indexes(&mut old, "users");
    assert!(
        during.contains(&"CREATE INDEX _hoist_ix_users_name_lower ON public.users USING btree (lower((_hoist_new_name)::text)) WHERE ((_hoist_new_name)::text <> ''::text)".to_owned()),
        "{during:#?}"
    );
    let finished = db.complete();
    assert_eq!(finished.dropped, ["users.name", "users.nick"]);
    let after = indexes(&mut old, "users");
    assert_eq!(
        after,
        [
            "CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)",
            "CREATE INDEX users_name_lower ON public.users USING btree (lower((name)::text)) WHERE ((name)::text <> ''::text)",
            "CREATE INDEX users_nick ON public.users USING hash (nick)",
            "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)",
        ],
        "before: {before:#?}"
    );
}

// Broke: a column in a unique constraint could not change type at all
// (refused), though the constraint can be built again over the new type.
#[test]
fn change_type_keeps_a_unique_constraint() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(
        2,
        "retype_email",
        "[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"email\"\nsql_type = \"varchar(320)\"\nup = \"email\"\ndown = \"email\"\n",
    );
    db.expand(&migration);
    let mut new = db.new_side("hoist_v2");
    // The copy holds the rule for the new side's writes already.
    assert!(new
        .batch_execute("INSERT INTO users (name, email) VALUES ('Dup', 'u1@x')")
        .is_err());
    db.complete();
    let mut old = db.old();
    assert!(constraints(&mut old, "users").contains(&"users_email_key u".to_owned()));
    assert!(old
        .batch_execute("INSERT INTO users (name, email) VALUES ('Dup', 'u1@x')")
        .is_err());
}

#[test]
fn carried_indexes_go_with_abort() {
    let db = Fixture::new(SHOP);
    let before = db.dump();
    let migration = db.declarative(2, "retype_name", RETYPE_NAME);
    db.expand(&migration);
    db.abort();
    assert_eq!(db.dump(), before);
}

/// Expands `toml` as migration 2; the refusal's message.
fn refused(db: &Fixture, toml: &str) -> String {
    let before = db.dump();
    let migration = db.declarative(2, "change", toml);
    let error = db
        .expander()
        .expand(&migration, "v2", &mut |_| {})
        .unwrap_err();
    assert!(matches!(error, DbError::ExpandInvalid { .. }), "{error:?}");
    std::fs::remove_file(db.dir.path().join("0002_change.toml")).unwrap();
    assert_eq!(db.dump(), before, "nothing was recorded");
    error.to_string()
}

const SPLIT_NAME: &str = "[[op]]\ntype = \"split_column\"\ntable = \"users\"\ncolumn = \"name\"\ninto = [{ name = \"first_name\", sql_type = \"text\", up = \"split_part(name, ' ', 1)\" }, { name = \"last_name\", sql_type = \"text\", up = \"split_part(name, ' ', 2)\" }]\ndown = \"first_name || ' ' || last_name\"\n";

#[test]
fn an_index_of_a_split_column_is_refused_unless_the_change_replaces_it() {
    let db = Fixture::new(SHOP);
    let message = refused(&db, SPLIT_NAME);
    assert!(
        message
            .contains("index `users_name_lower` reads `users.name`, which `split_column` replaces")
            && message.contains("`create_index` op over `first_name`, `last_name`"),
        "{message}"
    );
    let replaced = db.declarative(
        2,
        "split_name",
        &format!("{SPLIT_NAME}[[op]]\ntype = \"create_index\"\ntable = \"users\"\nname = \"users_last_name\"\ncolumns = [\"lower(last_name)\"]\n"),
    );
    db.expand(&replaced);
    db.complete();
    let mut old = db.old();
    let after = indexes(&mut old, "users");
    assert!(
        after
            .iter()
            .any(|i| i.starts_with("CREATE INDEX users_last_name "))
            && !after.iter().any(|i| i.contains("users_name_lower")),
        "{after:#?}"
    );
}

// Broke: contract dropped `orders_amount_positive` (and would have dropped
// `orders_user_fk`) with the column, silently: the rule was gone.
#[test]
fn a_check_on_a_replaced_column_was_dropped_at_contract() {
    let db = Fixture::new(SHOP);
    let retype = "[[op]]\ntype = \"change_type\"\ntable = \"orders\"\ncolumn = \"amount\"\nsql_type = \"numeric(12,2)\"\nup = \"amount::numeric / 100\"\ndown = \"(amount * 100)::integer\"\n";
    let message = refused(&db, retype);
    assert!(
        message.contains("check constraint `orders_amount_positive` reads `orders.amount`")
            && message.contains("add an `add_constraint` op that states it over `amount`"),
        "{message}"
    );
    let fk = "[[op]]\ntype = \"change_type\"\ntable = \"orders\"\ncolumn = \"user_id\"\nsql_type = \"bigint\"\nup = \"user_id\"\ndown = \"user_id::integer\"\n";
    let message = refused(&db, fk);
    assert!(
        message.contains("foreign key `orders_user_fk` reads `orders.user_id`"),
        "{message}"
    );
    // Stated again over the new column: the old rule goes, the new stays.
    let stated = db.declarative(
        2,
        "amount_units",
        &format!("{retype}[[op]]\ntype = \"add_constraint\"\ntable = \"orders\"\nname = \"orders_amount_above_zero\"\ncheck = \"amount > 0\"\n"),
    );
    db.expand(&stated);
    db.complete();
    let mut old = db.old();
    assert_eq!(
        constraints(&mut old, "orders"),
        [
            "orders_amount_above_zero c",
            "orders_pkey p",
            "orders_user_fk f"
        ]
    );
}

#[test]
fn an_index_that_cannot_hold_the_new_type_is_refused_at_begin() {
    let db = Fixture::new(SHOP);
    let message = refused(
        &db,
        "[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"name\"\nsql_type = \"integer\"\nup = \"length(name)\"\ndown = \"name::text\"\n",
    );
    assert!(
        message.contains("index `users_name_lower`")
            && message.contains("operator does not exist: integer <> text"),
        "{message}"
    );
}

#[test]
fn an_invalid_leftover_of_a_carried_index_is_built_again() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(2, "retype_name", RETYPE_NAME);
    // Stop before the constraints step's work, as a crash there would.
    let url = db.pg.url.clone();
    let crashing = migration.clone();
    let crashed = std::thread::spawn(move || {
        let mut expander =
            hoist_db::expand::Expander::connect(&url, expand_util::options()).unwrap();
        let _ = expander.expand(&crashing, "v2", &mut |event| {
            if matches!(event, ExpandEvent::Step(ExpandStep::Constraints)) {
                panic!("crash at constraints");
            }
        });
    })
    .join();
    assert!(crashed.is_err());
    // What a build cut off leaves: an INVALID index of the carried name.
    let mut old = db.old();
    assert!(old
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY _hoist_ix_users_name_lower ON users ((1))")
        .is_err());
    let valid: bool = old
        .query_one("SELECT indisvalid FROM pg_index WHERE indexrelid = '_hoist_ix_users_name_lower'::regclass", &[])
        .unwrap()
        .get(0);
    assert!(!valid);
    assert!(db.expand(&migration).resumed);
    assert!(indexes(&mut old, "users").contains(&"CREATE INDEX _hoist_ix_users_name_lower ON public.users USING btree (lower((_hoist_new_name)::text)) WHERE ((_hoist_new_name)::text <> ''::text)".to_owned()));
}

#[test]
fn an_index_made_on_the_old_column_during_the_expansion_stops_contract_with_the_fix() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(2, "retype_name", RETYPE_NAME);
    db.expand(&migration);
    let mut old = db.old();
    expand_util::exec(
        &mut old,
        "CREATE INDEX users_name_upper ON users (upper(name))",
    );
    let error = db.expander().complete(&mut |_| {}).unwrap_err();
    let message = error.to_string();
    let command = message
        .split('`')
        .find(|part| part.starts_with("CREATE INDEX CONCURRENTLY"))
        .unwrap_or_else(|| panic!("{message}"))
        .to_owned();
    assert!(message.contains("index `users_name_upper`"), "{message}");
    // The way out the message gives, then contract again.
    expand_util::exec(&mut old, &command);
    db.complete();
    assert!(indexes(&mut old, "users").contains(
        &"CREATE INDEX users_name_upper ON public.users USING btree (upper((name)::text))"
            .to_owned()
    ));
}
