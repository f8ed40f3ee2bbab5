//! Expand and contract through the real binary (issue 17): `users.name`
//! becomes `full_name` while a real gunicorn app serves mixed load through
//! a real agent, in a blue/green deploy and in a held candidate taking test
//! traffic. No request fails, and every row either release wrote reads
//! right through both releases' shapes, before and after `hoist db complete`
//! (which is refused while the old release is warm). After contract a
//! rollback is refused, naming the migration that would undo it.

mod util;

use std::time::Duration;
use util::schema_app::Shape;
use util::schema_load::{Steer, UserLoad};
use util::schema_scenario::Site;

#[test]
fn rename_during_blue_green_deploy_under_load() {
    let mut site = Site::start(Shape::V1);
    let (v2, _, outcome) = site.expand_under_load(Shape::Rename, &[]);
    site.assert_both_shapes(&v2, Shape::Rename, &outcome.rows, "before contract");
    // A restarted agent starts the new release afresh, on its view schema
    // again (the contract's load below reads and writes `full_name` through it).
    site.restart_agent();
    assert_eq!(site.app.env.live().as_deref(), Some(v2.as_str()));
    site.contract_under_load(&v2, Shape::Rename, &outcome.rows);
    // After contract a rollback says which new migration would bring the old shape back.
    site.app
        .env
        .hoist()
        .arg("rollback")
        .code(1)
        .stderr_has("rename_column users.full_name -> name")
        .run();
}

#[test]
fn rename_in_a_held_candidate_taking_test_traffic() {
    let site = Site::start(Shape::V1);
    let app = &site.app;
    let load = UserLoad::start(app.port, 4, Steer::Alternate, &app.releases, "held");
    load.wait_for_more(150);
    let v2 = app.deploy(Shape::Rename, &["--hold"]);
    // Every other request asks for the candidate: each thread's rows are
    // written and read by both releases, for 10 s.
    let before = load.requests();
    load.run_for(Duration::from_secs(10));
    let held = load.requests() - before;
    assert_eq!(
        app.env.live().as_deref(),
        Some(site.old.as_str()),
        "the candidate is held"
    );
    app.env.hoist().args(["promote", "-q"]).run();
    load.wait_for_more(200);
    let outcome = load.finish();
    outcome.assert_no_failure("held rename");
    eprintln!("{held} requests while the candidate was held");
    for release in [&site.old, &v2] {
        assert!(
            outcome.by_release.get(release).copied().unwrap_or(0) > 100,
            "`{release}` answered: {:?}",
            outcome.by_release
        );
    }
    let both = outcome
        .rows
        .iter()
        .filter(|row| row.writers.contains(&site.old) && row.writers.contains(&v2))
        .count();
    assert!(both > 0, "some rows were written by both releases");
    site.assert_both_shapes(&v2, Shape::Rename, &outcome.rows, "before contract");
    site.contract_under_load(&v2, Shape::Rename, &outcome.rows);
}
