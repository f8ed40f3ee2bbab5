//! Undoing an expansion through the real binary (issue 17): before
//! contract `hoist rollback` is a route swap (the schema is untouched) and
//! loses no row; `hoist db abort` is refused while the new release is
//! warm, and then leaves the database exactly as it was before the
//! expansion (`pg_dump --schema-only`, row checksums).

mod util;

use std::time::Instant;
use util::schema_app::Shape;
use util::schema_rows::{assert_rows, assert_same_schema, checksum, schema_dump};
use util::schema_scenario::Site;

#[test]
fn rollback_before_contract_is_a_route_swap_and_abort_restores_the_schema() {
    let site = Site::start(Shape::V1);
    let (app, url) = (&site.app, site.postgres.url.as_str());
    let before = schema_dump(url);
    let load = site.load(3, "rollback");
    load.wait_for_more(150);
    let v2 = app.deploy(Shape::Rename, &[]);
    load.wait_for_more(300);
    let expanded = schema_dump(url);
    assert_ne!(before, expanded, "the deploy expanded the schema");

    let started = Instant::now();
    let rolled = app.env.hoist().args(["rollback", "--json"]).run_json();
    eprintln!("rollback took {:?}: {rolled}", started.elapsed());
    assert_eq!(rolled["release"], site.old.as_str(), "{rolled}");
    assert_same_schema(&expanded, &schema_dump(url), "the rollback");
    load.wait_for_more(300);
    // The new release is warm: the abort would drop the shape it reads.
    app.env
        .hoist()
        .args(["db", "abort"])
        .code(1)
        .stderr_has(&v2)
        .run();
    let outcome = load.finish();
    outcome.assert_no_failure("deploy and rollback");
    assert!(
        outcome.by_release.get(&v2).copied().unwrap_or(0) > 0,
        "the new release answered before the rollback: {:?}",
        outcome.by_release
    );
    // Nothing either release wrote is lost, and both shapes still read it.
    site.assert_both_shapes(&v2, Shape::Rename, &outcome.rows, "after the rollback");

    app.wait_cold(&v2);
    let rows = checksum(url, "users");
    let aborted = app.env.hoist().args(["db", "abort", "--json"]).run_json();
    eprintln!("abort: {aborted}");
    assert_same_schema(&before, &schema_dump(url), "the abort");
    assert_eq!(checksum(url, "users"), rows, "the abort changed rows");
    assert_rows(url, "public", Shape::V1, &outcome.rows, "after the abort");
    let status = app.env.hoist().args(["db", "status", "--json"]).run_json();
    assert!(status["expansion"]["open"].is_null(), "{status}");

    // The old release serves on.
    let load = site.load(2, "after-abort");
    load.wait_for_more(100);
    load.finish().assert_no_failure("after the abort");
}
