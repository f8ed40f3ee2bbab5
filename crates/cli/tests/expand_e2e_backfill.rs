//! A NOT NULL column added with a backfill over 200,000 rows while the site
//! serves, through the real binary (issue 17): the longest lock the
//! backfill holds, seen by polling `pg_stat_activity` and `pg_locks`, is
//! reported and stays under 200 ms; no request fails; every row reads right
//! through both shapes before contract, and `email` is NOT NULL after.
//! (A file of its own, so no other test of this crate shares the cores
//! while the lock is timed.)

mod util;

use util::lock_watch::LockWatch;
use util::schema_app::{Shape, OLD_EMAIL_DOMAIN};
use util::schema_rows::{connect_as, search_path};
use util::schema_scenario::Site;

/// Rows the backfill goes over, written before the expansion.
const SEEDED: i64 = 200_000;

#[test]
fn add_not_null_column_with_backfill_over_200k_rows_under_load() {
    let site = Site::start(Shape::V1);
    let url = site.postgres.url.clone();
    connect_as(&url, "public")
        .batch_execute(&format!(
            "INSERT INTO users (name) SELECT 'fs' || g || ' ls' || g FROM generate_series(1, {SEEDED}) g; ANALYZE users"
        ))
        .unwrap();
    let watch = LockWatch::start(&url, "users");
    let (v2, deployed, outcome) = site.expand_under_load(Shape::AddEmail, &[]);
    let locks = watch.finish();
    eprintln!(
        "backfill of {SEEDED} rows: longest row-lock hold seen {:.1} ms (from a batch's UPDATE to its \
         last sample; {} of {} batches caught in their UPDATE, a poll every {:.1} ms); longest batch \
         transaction seen {:.1} ms; longest write-blocking lock {:.1} ms ({}): {}; the engine's own \
         longest batch: {} ms",
        locks.longest_row_locks_ms,
        locks.updates_timed,
        locks.updates_seen,
        locks.poll_interval_ms,
        locks.longest_update_ms,
        locks.longest_blocking_ms,
        locks.longest_blocking_modes,
        locks.longest_blocking_query,
        deployed["expansion"]["longest_batch_ms"]
    );
    assert!(
        locks.updates_timed > 0,
        "the watch saw the backfill: {locks:?}"
    );
    assert!(
        locks.longest_row_locks_ms < 200.0,
        "a backfill batch held its row locks {:.1} ms",
        locks.longest_row_locks_ms
    );
    // Every seeded row got its email from the backfill, as the new release reads it.
    let wrong: i64 = connect_as(&url, &search_path(&v2, Shape::AddEmail))
        .query_one(
            &format!(
                "SELECT count(*) FROM users WHERE id <= {SEEDED} AND email IS DISTINCT FROM replace(name, ' ', '.') || '@{OLD_EMAIL_DOMAIN}'"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0, "seeded rows without their backfilled email");
    site.assert_both_shapes(&v2, Shape::AddEmail, &outcome.rows, "before contract");
    site.contract_under_load(&v2, Shape::AddEmail, &outcome.rows);
    let not_null: String = connect_as(&url, "public")
        .query_one(
            "SELECT is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'email'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(not_null, "NO", "contract made `email` NOT NULL");
}
