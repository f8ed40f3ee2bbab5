//! Writes through the new side go on while the contract runs: they may
//! wait for its short transaction, but none fails, and none is lost.

mod expand_util;

use expand_util::{exec, Fixture};
use std::sync::mpsc;

const SPLIT: &str = "[[op]]\ntype = \"split_column\"\ntable = \"users\"\ncolumn = \"name\"\ninto = [{ name = \"first_name\", sql_type = \"text\", up = \"split_part(name, ' ', 1)\" }, { name = \"last_name\", sql_type = \"text\", up = \"split_part(name, ' ', 2)\" }]\ndown = \"first_name || ' ' || last_name\"\n[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"email\"\nto = \"mail\"\n";

/// Ops the writer makes before and after the contract.
const OPS: u32 = 100;

#[test]
fn new_side_writes_never_fail_across_contract() {
    let db = Fixture::new(
        "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text);
         INSERT INTO users (name, email) SELECT 'First' || i || ' Last' || i, i || '@x' FROM generate_series(1, 500) i;\n",
    );
    let migration = db.declarative(2, "split_name", SPLIT);
    db.expand(&migration);
    let (ready, started) = mpsc::channel();
    let (go_on, contracted) = mpsc::channel::<()>();
    let mut new = db.new_side("hoist_v2");
    let writer = std::thread::spawn(move || {
        let mut failures = Vec::new();
        let mut run = |new: &mut postgres::Client, i: u32| {
            let sql = format!(
                "INSERT INTO users (first_name, last_name, mail) VALUES ('W{i}', 'X{i}', 'w{i}@x');
                 UPDATE users SET last_name = 'U{i}' WHERE id = {};
                 SELECT count(*) FROM users WHERE mail LIKE '%@x' AND first_name IS NOT NULL;",
                1 + i % 500
            );
            if let Err(error) = new.batch_execute(&sql) {
                failures.push(format!("op {i}: {error:?}"));
            }
        };
        for i in 0..OPS {
            run(&mut new, i);
        }
        ready.send(()).unwrap();
        // Keep writing while the contract runs, until told it is done.
        let mut i = OPS;
        while contracted.try_recv().is_err() && i < 100 * OPS {
            run(&mut new, i);
            i += 1;
        }
        for j in 0..OPS {
            run(&mut new, i + j);
        }
        (failures, i + OPS)
    });
    started.recv().unwrap();
    db.complete();
    go_on.send(()).unwrap();
    let (failures, ops) = writer.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {ops} failed: {failures:?}",
        failures.len()
    );
    let mut check = db.old();
    let inserted: i64 = check
        .query_one("SELECT count(*) FROM users WHERE first_name LIKE 'W%'", &[])
        .unwrap()
        .get(0);
    assert_eq!(inserted, i64::from(ops), "every insert is there");
    let wrong: i64 = check
        .query_one("SELECT count(*) FROM users WHERE first_name IS NULL OR last_name IS NULL OR mail IS NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
    exec(
        &mut check,
        "SELECT first_name, last_name, mail FROM users LIMIT 1",
    );
}
