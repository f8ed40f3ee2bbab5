//! Expand and contract through the real binary (issue 17): `users.name`
//! becomes `full_name` while a real gunicorn app serves mixed load through
//! a real agent, in a blue/green deploy and in a held candidate taking test
//! traffic. No request fails, and every row either release wrote reads
//! right through both releases' shapes, before and after `hoist db complete`.

mod util;

use hoist_testkit::TestPostgres;
use std::time::Duration;
use util::agent_process::{free_port, AgentProcess};
use util::schema_app::{SchemaApp, Shape};
use util::schema_load::{Steer, UserLoad};
use util::schema_rows::{assert_rows, search_path};

/// Runs `hoist db complete` under load once `old` is no longer warm, then
/// checks every row in `rows` (and the new load's) through the new shape.
fn complete_under_load(app: &SchemaApp, old: &str, new: &str, rows: &[util::schema_person::Row]) {
    app.env
        .hoist()
        .args(["db", "complete"])
        .code(1)
        .stderr_has(old)
        .run();
    app.wait_cold(old);
    let load = UserLoad::start(app.port, 3, Steer::Public, &app.releases, "contract");
    load.wait_for_more(100);
    app.env.hoist().args(["db", "complete"]).run();
    load.wait_for_more(200);
    let outcome = load.finish();
    outcome.assert_no_failure("during contract");
    let mut all = rows.to_vec();
    all.extend(outcome.rows);
    // The view schema is gone: the new release's search path falls through
    // to `public`, which now has its shape.
    assert_rows(&app.url, "public", Shape::Rename, &all, "after contract");
    assert_rows(
        &app.url,
        &search_path(new, Shape::Rename),
        Shape::Rename,
        &all,
        "after contract, as the new release",
    );
    let views: i64 = app_client(app)
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'hoist\\_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(views, 0, "contract dropped every view schema");
}

fn app_client(app: &SchemaApp) -> postgres::Client {
    util::schema_rows::connect_as(&app.url, "public")
}

#[test]
fn rename_during_blue_green_deploy_under_load() {
    let postgres = TestPostgres::start();
    let port = free_port();
    let app = SchemaApp::new(&postgres.url, port, Shape::V1);
    let v1 = app.deploy(Shape::V1, &[]);
    let _agent = AgentProcess::start(&app.env);
    let load = UserLoad::start(port, 4, Steer::Public, &app.releases, "bg");
    load.wait_for_more(200);
    let v2 = app.deploy(Shape::Rename, &[]);
    load.wait_for_more(300);
    let outcome = load.finish();
    outcome.assert_no_failure("blue/green rename");
    for release in [&v1, &v2] {
        assert!(
            outcome.by_release.get(release).copied().unwrap_or(0) > 0,
            "`{release}` answered: {:?}",
            outcome.by_release
        );
    }
    assert_rows(
        &postgres.url,
        "public",
        Shape::V1,
        &outcome.rows,
        "v1 before contract",
    );
    assert_rows(
        &postgres.url,
        &search_path(&v2, Shape::Rename),
        Shape::Rename,
        &outcome.rows,
        "v2 before contract",
    );
    complete_under_load(&app, &v1, &v2, &outcome.rows);
}

#[test]
fn rename_in_a_held_candidate_taking_test_traffic() {
    let postgres = TestPostgres::start();
    let port = free_port();
    let app = SchemaApp::new(&postgres.url, port, Shape::V1);
    let v1 = app.deploy(Shape::V1, &[]);
    let _agent = AgentProcess::start(&app.env);
    let load = UserLoad::start(port, 4, Steer::Alternate, &app.releases, "held");
    load.wait_for_more(200);
    let v2 = app.deploy(Shape::Rename, &["--hold"]);
    // Every other request asks for the candidate: each thread's rows are
    // written and read by both releases, for 10 s.
    load.run_for(Duration::from_secs(10));
    let held = load.requests();
    assert_eq!(
        app.env.live().as_deref(),
        Some(v1.as_str()),
        "the candidate is held"
    );
    app.env.hoist().args(["promote", "-q"]).run();
    load.wait_for_more(200);
    let outcome = load.finish();
    outcome.assert_no_failure("held rename");
    assert!(held > 200, "the held candidate took test traffic");
    for release in [&v1, &v2] {
        assert!(
            outcome.by_release.get(release).copied().unwrap_or(0) > 0,
            "`{release}` answered: {:?}",
            outcome.by_release
        );
    }
    let both = outcome
        .rows
        .iter()
        .filter(|row| row.writers.contains(&v1) && row.writers.contains(&v2))
        .count();
    assert!(both > 0, "some rows were written by both releases");
    assert_rows(
        &postgres.url,
        "public",
        Shape::V1,
        &outcome.rows,
        "v1 before contract",
    );
    assert_rows(
        &postgres.url,
        &search_path(&v2, Shape::Rename),
        Shape::Rename,
        &outcome.rows,
        "v2 before contract",
    );
    complete_under_load(&app, &v1, &v2, &outcome.rows);
}
