//! The rename during a 3-host fleet deploy in waves (issue 17): real
//! sshd hosts each running the app under gunicorn, a real HAProxy in
//! front, one PostgreSQL. The first wave (one host) expands, the second
//! (the other two) joins; the
//! load through HAProxy meets both releases at once and fails no request;
//! `hoist db complete --stage` is refused while a host still runs the old
//! release, and contracts once none does. Every row reads right through
//! both shapes before contract and through the new one after.

mod util;

use hoist_testkit::TestPostgres;
use util::schema_app::Shape;
use util::schema_fleet::SchemaFleet;
use util::schema_load::{Steer, UserLoad};
use util::schema_rows::{assert_rows, search_path};

#[test]
fn rename_during_a_three_host_fleet_deploy_in_waves() {
    let postgres = TestPostgres::start();
    let names = ["web1", "web2", "web3"];
    let stage = SchemaFleet::start(&names, &postgres.url, "[1, \"100%\"]");
    let (v1, artifact) = stage.build(Shape::V1);
    stage.deploy(&artifact);
    for name in names {
        stage.haproxy.wait_status("shop", name, "UP");
    }
    let frontend = stage.haproxy.frontend_addr();
    let load = UserLoad::start_at(frontend, 3, Steer::Public, &stage.releases, "fleet");
    load.wait_for_more(150);
    let (v2, artifact) = stage.build(Shape::Rename);
    let deployed = stage.deploy(&artifact);
    eprintln!("fleet deploy: {deployed}");
    assert_eq!(deployed["outcome"], "deployed", "{deployed}");
    assert_eq!(
        deployed["waves"].as_array().map(Vec::len),
        Some(2),
        "{deployed}"
    );
    for name in names {
        assert_eq!(stage.live(name).as_deref(), Some(v2.as_str()), "{name}");
        stage.haproxy.wait_status("shop", name, "UP");
    }
    load.wait_for_more(200);

    // One host back on the old release: the contract is refused, naming it.
    stage.switch_by_hand("web3", &v1);
    load.wait_for_more(150);
    stage
        .hoist()
        .args(["db", "complete", "--stage", "production"])
        .code(1)
        .stderr_has("web3")
        .run();
    stage.switch_by_hand("web3", &v2);
    load.wait_for_more(150);
    let outcome = load.finish();
    outcome.assert_no_failure("fleet deploy in waves");
    for release in [&v1, &v2] {
        assert!(
            outcome.by_release.get(release).copied().unwrap_or(0) > 0,
            "`{release}` answered: {:?}",
            outcome.by_release
        );
    }
    let url = &postgres.url;
    assert_rows(
        url,
        "public",
        Shape::V1,
        &outcome.rows,
        "old release, before contract",
    );
    assert_rows(
        url,
        &search_path(&v2, Shape::Rename),
        Shape::Rename,
        &outcome.rows,
        "new release, before contract",
    );

    let load = UserLoad::start_at(frontend, 3, Steer::Public, &stage.releases, "contract");
    load.wait_for_more(100);
    let completed = stage
        .hoist()
        .args(["db", "complete", "--stage", "production", "--json"])
        .run_json();
    eprintln!("complete: {completed}");
    load.wait_for_more(200);
    let after = load.finish();
    after.assert_no_failure("fleet contract");
    let mut rows = outcome.rows;
    rows.extend(after.rows);
    assert_rows(url, "public", Shape::Rename, &rows, "after contract");
    assert_rows(
        url,
        &search_path(&v2, Shape::Rename),
        Shape::Rename,
        &rows,
        "after contract, as the new release",
    );
}
