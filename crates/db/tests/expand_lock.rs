//! Expand and a classic migrator exclude each other through the
//! migrators' advisory lock: expand waits `ExpandOptions::lock_wait` for
//! it, then fails naming who holds it.

mod expand_util;

use expand_util::{describe, Fixture};
use hoist_db::expand::{ExpandOptions, Expander};
use hoist_db::{DbError, Driver, Postgres};
use std::sync::mpsc;
use std::time::Duration;

const SHOP: &str = "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, nick text);
INSERT INTO users (name, nick) VALUES ('Ann', 'a'), ('Bob', 'b');\n";

const RENAME: &str =
    "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"nick\"\nto = \"handle\"\n";

/// A classic migrator (`hoist db migrate`'s driver) holding the lock; its
/// session is named so the refusal can be seen to name it.
fn classic_migrator(url: &str) -> Postgres {
    let separator = if url.contains('?') { '&' } else { '?' };
    let named = format!("{url}{separator}application_name=classic-migrator");
    let mut migrator = Postgres::connect(&named).unwrap();
    migrator.lock(Duration::from_secs(10)).unwrap();
    migrator
}

#[test]
fn expand_waits_for_a_classic_migrator_then_runs() {
    let db = Fixture::new(SHOP);
    let migration = db.declarative(2, "rename_nick", RENAME);
    let migrator = classic_migrator(&db.pg.url);
    let (sender, events) = mpsc::channel();
    let url = db.pg.url.clone();
    let expanding = std::thread::spawn(move || {
        let mut expander = Expander::connect(&url, expand_util::options()).unwrap();
        sender.send("connected".to_owned()).unwrap();
        expander.expand(&migration, "v2", &mut |event| {
            let _ = sender.send(describe(&event));
        })
    });
    assert_eq!(events.recv().unwrap(), "connected");
    // While the migrator holds the lock nothing of the expansion starts.
    assert!(
        events.recv_timeout(Duration::from_secs(1)).is_err(),
        "expand began under a migrator's lock"
    );
    assert!(db.expander().status().unwrap().open.is_none());
    drop(migrator);
    let expanded = expanding.join().unwrap().unwrap();
    assert_eq!(expanded.schema, "hoist_v2");
    assert_eq!(events.recv().unwrap(), "step begin");
}

// Broke: with a migrator of another database on the same server holding
// the same key, the holder query found two rows and the message named nobody.
#[test]
fn expand_gives_up_after_lock_wait_naming_the_holder() {
    let db = Fixture::new(SHOP);
    let before = db.dump();
    let migration = db.declarative(2, "rename_nick", RENAME);
    let elsewhere = Fixture::new(SHOP);
    let _other = classic_migrator(&elsewhere.pg.url);
    let _migrator = classic_migrator(&db.pg.url);
    let options = ExpandOptions {
        lock_wait: Duration::from_millis(300),
        ..expand_util::options()
    };
    let error = Expander::connect(&db.pg.url, options)
        .unwrap()
        .expand(&migration, "v2", &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(&error, DbError::Locked { holder, .. } if holder.contains("classic-migrator")),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("being migrated by someone else") && message.contains("Try again"),
        "{message}"
    );
    assert_eq!(db.dump(), before, "nothing was recorded");
}
