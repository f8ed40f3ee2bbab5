//! A 200,000-row backfill while the old release writes: the longest
//! transaction the backfill holds, seen from `pg_stat_activity`, stays
//! short, and every row ends up with the right value.

mod expand_util;

use expand_util::{exec, Fixture};
use hoist_db::expand::{ExpandEvent, ExpandOptions, ExpandStep, Expander, APPLICATION_NAME};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const ROWS: i64 = 200_000;

#[test]
fn backfill_of_200k_rows_holds_only_short_transactions_under_writes() {
    let db = Fixture::new(&format!(
        "CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL, balance integer NOT NULL DEFAULT 0);
         INSERT INTO accounts (email) SELECT 'a' || i || '@x' FROM generate_series(1, {ROWS}) i;\n"
    ));
    let migration = db.declarative(
        2,
        "add_tier",
        "[[op]]\ntype = \"add_column\"\ntable = \"accounts\"\ncolumn = \"tier\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"CASE WHEN id % 3 = 0 THEN 'gold' ELSE 'basic' END\"\n",
    );
    let done = Arc::new(AtomicBool::new(false));
    let backfilling = Arc::new(AtomicBool::new(false));

    // The old release: inserts and updates, one short statement each.
    let writer = {
        let (done, mut client) = (done.clone(), db.old());
        std::thread::spawn(move || {
            let mut writes = 0u64;
            while !done.load(Ordering::Relaxed) && writes < 200_000 {
                let id = (writes * 7919) % (ROWS as u64) + 1;
                exec(
                    &mut client,
                    &format!("UPDATE accounts SET balance = balance + 1 WHERE id = {id}"),
                );
                exec(&mut client, "INSERT INTO accounts (email) VALUES ('w@x')");
                writes += 2;
            }
            writes
        })
    };

    // The backfill's transactions, as the server sees them.
    let longest_seen_us = Arc::new(AtomicU64::new(0));
    let poller = {
        let (done, backfilling, longest) =
            (done.clone(), backfilling.clone(), longest_seen_us.clone());
        let mut client = db.old();
        std::thread::spawn(move || {
            let mut polls = 0u64;
            let sql = "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start) * 1000000), 0)::bigint \
                       FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND xact_start IS NOT NULL";
            while !done.load(Ordering::Relaxed) {
                if backfilling.load(Ordering::Relaxed) {
                    let us: i64 = client.query_one(sql, &[&APPLICATION_NAME]).unwrap().get(0);
                    longest.fetch_max(us as u64, Ordering::Relaxed);
                    polls += 1;
                }
                // A polling interval, not synchronisation.
                std::thread::sleep(Duration::from_millis(1));
            }
            polls
        })
    };

    let options = ExpandOptions {
        batch_rows: 1000,
        batch_pause: Duration::from_millis(5),
        ..expand_util::options()
    };
    let mut expander = Expander::connect(&db.pg.url, options).unwrap();
    let mut batches = 0;
    let expanded = expander
        .expand(&migration, "v2", &mut |event| match event {
            ExpandEvent::Step(ExpandStep::Backfill) => backfilling.store(true, Ordering::Relaxed),
            ExpandEvent::Step(_) => backfilling.store(false, Ordering::Relaxed),
            ExpandEvent::Backfilled { .. } => batches += 1,
            ExpandEvent::Retry { .. } => {}
        })
        .unwrap();
    done.store(true, Ordering::Relaxed);
    let writes = writer.join().unwrap();
    let polls = poller.join().unwrap();
    let longest_ms = longest_seen_us.load(Ordering::Relaxed) as f64 / 1000.0;
    println!(
        "backfill of {} rows in {batches} batches while the old side made {writes} writes: \
         longest backfill transaction {longest_ms:.1} ms in pg_stat_activity ({polls} polls), \
         {} ms measured by the expander",
        expanded.backfill[0].done, expanded.longest_batch_ms
    );
    assert!(expanded.backfill[0].done >= ROWS as u64);
    assert!(polls > 10, "the poller saw the backfill run");
    assert!(
        longest_ms < 200.0,
        "a backfill transaction lasted {longest_ms} ms"
    );

    let mut new = db.new_side("hoist_v2");
    let wrong: i64 = new
        .query_one(
            "SELECT count(*) FROM accounts WHERE tier IS DISTINCT FROM CASE WHEN id % 3 = 0 THEN 'gold' ELSE 'basic' END",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        wrong, 0,
        "every row, old or written during the backfill, has its tier"
    );
    db.complete();
}
