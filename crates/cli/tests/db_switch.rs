//! Schema changes ordered with the switch, under writes: a real gunicorn app
//! writing to a real PostgreSQL through a real agent loses no request and no
//! row when a deploy migrates before its switch or `rollback --with-db` runs
//! the downs, and `hoist promote` finishes the migrations a deploy would.

mod pg_shop;
mod util;

use hoist_testkit::TestPostgres;
use pg_shop::load::{MixedLoad, Outcome};
use pg_shop::{has_note, Shop, Version, WATCH};
use std::time::{Duration, Instant};
use util::agent_process::{free_port, AgentProcess};

/// Asserts that the load lost no request and no row, saying what it saw.
#[track_caller]
fn assert_nothing_lost(shop: &Shop, postgres: &TestPostgres, outcome: &Outcome, logs: &[&str]) {
    let (stored, lost) = outcome.rows(postgres);
    eprintln!(
        "{} requests, {} failed; {} rows acknowledged, {} stored, {} lost; answers by release {:?}",
        outcome.requests,
        outcome.failed,
        outcome.acknowledged.len(),
        stored,
        lost.len(),
        outcome.by_release
    );
    let tails: Vec<String> = logs
        .iter()
        .map(|release| format!("--- {release}:\n{}", shop.log_tail(release)))
        .collect();
    assert_eq!(
        outcome.failed,
        0,
        "{} of {} requests failed: {:#?}\n{}",
        outcome.failed,
        outcome.requests,
        outcome.problems,
        tails.join("\n")
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged rows are not in the table: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert_eq!(
        stored,
        outcome.acknowledged.len(),
        "rows were stored that the app never acknowledged"
    );
}

/// Traffic moved to the old code before the down migrations ran, and the error watch then rolled the code forward again, leaving the schema behind.
#[test]
fn rollback_with_db_breaks_site_in_agent_mode() {
    let postgres = TestPostgres::start();
    let port = free_port();
    let shop = Shop::new(&postgres.url, port);
    let v1 = shop.deploy(Version::V1, &[]);
    let _agent = AgentProcess::start(&shop.env);
    let v2 = shop.deploy(Version::V2, &["--pause", "30s"]);
    assert!(has_note(&postgres), "v2's pre-switch migration ran");

    let load = MixedLoad::start(port, 4, "rollback");
    load.wait_for_more(200);
    let rolled = shop
        .env
        .hoist()
        .args(["rollback", "--with-db", "--json"])
        .run_json();
    let rolled_at = Instant::now();
    assert_eq!(rolled["release"], v1.as_str(), "{rolled}");
    assert_eq!(
        rolled["db_rolled_back"],
        serde_json::json!(["0002_add_note"]),
        "{rolled}"
    );
    // The load goes on past `[process] watch`: v1 stays live, nothing rolls
    // the code forward onto the schema it was rolled back from.
    while rolled_at.elapsed() < WATCH + Duration::from_secs(2) {
        load.wait_for_more(50);
        assert_eq!(shop.env.live().as_deref(), Some(v1.as_str()));
    }
    let outcome = load.finish();
    assert_nothing_lost(&shop, &postgres, &outcome, &[&v1, &v2]);

    assert!(!has_note(&postgres), "v2's migration was undone");
    assert_eq!(shop.applied(), ["0001_create_orders"]);
    let status = shop.env.status();
    assert_eq!(status["live"], v1.as_str(), "{status}");
    assert_eq!(status["agent"]["live"]["release"], v1.as_str(), "{status}");
    assert!(
        outcome.by_release.get(&v1).copied().unwrap_or(0) > 0,
        "v1 answered after the rollback: {:?}",
        outcome.by_release
    );
}

/// `hoist promote` left `phase=post` migrations pending until `hoist db migrate --phase post`.
#[test]
fn promote_skips_post_migrations() {
    let postgres = TestPostgres::start();
    let port = free_port();
    let shop = Shop::new(&postgres.url, port);
    shop.deploy(Version::V1, &[]);
    let _agent = AgentProcess::start(&shop.env);
    let v2 = shop.deploy(Version::V2WithPost, &["--hold"]);
    assert_eq!(
        shop.applied(),
        ["0001_create_orders", "0002_add_note"],
        "a held release gets its pre-switch migrations only"
    );

    shop.env.hoist().args(["promote", "-q"]).run();
    assert_eq!(shop.env.live().as_deref(), Some(v2.as_str()));
    assert_eq!(
        shop.applied(),
        ["0001_create_orders", "0002_add_note", "0003_index_note"],
        "promote runs the post-switch migrations, as a deploy does"
    );
    let status = shop.env.hoist().args(["db", "status", "--json"]).run_json();
    assert_eq!(status["pending"], serde_json::json!([]), "{status}");
    let indexes: i64 = postgres
        .client()
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_note'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(indexes, 1);
}

#[test]
fn forward_deploy_with_pre_migration_under_write_load_loses_nothing() {
    let postgres = TestPostgres::start();
    let port = free_port();
    let shop = Shop::new(&postgres.url, port);
    let v1 = shop.deploy(Version::V1, &[]);
    let _agent = AgentProcess::start(&shop.env);

    let load = MixedLoad::start(port, 4, "forward");
    load.wait_for_more(200);
    // v1 cannot write once `note` exists: the pause holds requests across
    // the migration and the switch.
    let v2 = shop.deploy(Version::V2, &["--pause", "30s"]);
    load.wait_for_more(200);
    let outcome = load.finish();
    assert_nothing_lost(&shop, &postgres, &outcome, &[&v1, &v2]);

    assert_eq!(shop.env.live().as_deref(), Some(v2.as_str()));
    assert_eq!(shop.applied(), ["0001_create_orders", "0002_add_note"]);
    for release in [&v1, &v2] {
        assert!(
            outcome.by_release.get(release).copied().unwrap_or(0) > 0,
            "`{release}` answered some of the load: {:?}",
            outcome.by_release
        );
    }
    let by_v2: i64 = postgres
        .client()
        .query_one("SELECT count(*) FROM orders WHERE note = 'by v2'", &[])
        .unwrap()
        .get(0);
    assert!(by_v2 > 0, "v2 wrote its notes");
}
