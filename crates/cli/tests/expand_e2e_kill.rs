//! `kill -9` of hoist at every step of an expansion, a contract and an
//! abort, then `hoist recover` (issue 17): each time the database is
//! consistent (the expansion resumes, or its end finishes), and the site
//! serves throughout: one load runs across every kill with no failed
//! request, and every row it wrote reads right at the end.

mod util;

use hoist_db::expand::ExpandStep;
use util::schema_app::Shape;
use util::schema_rows::{assert_rows, assert_same_schema, schema_dump, search_path};
use util::schema_scenario::Site;

/// Where a deploy's expansion is killed, in order: each step the engine
/// reports (`expand-<step>`, recorded and before its work), then the
/// deploy's first journal step after it (`switch`), which stands for
/// [`ExpandStep::Expanded`]: a state with no work, so the engine reports
/// no step for it. The match makes a new step a compile error here until
/// a kill covers it.
fn kill_points() -> Vec<String> {
    let steps = [
        ExpandStep::Begin,
        ExpandStep::Columns,
        ExpandStep::Triggers,
        ExpandStep::Backfill,
        ExpandStep::Constraints,
        ExpandStep::Views,
    ];
    for step in steps {
        match step {
            ExpandStep::Begin
            | ExpandStep::Columns
            | ExpandStep::Triggers
            | ExpandStep::Backfill
            | ExpandStep::Constraints
            | ExpandStep::Views
            // The journal's `switch`, below.
            | ExpandStep::Expanded
            // Killed in `hoist db complete` and `hoist db abort`.
            | ExpandStep::Completing
            | ExpandStep::Aborting => {}
        }
    }
    let mut points: Vec<String> = steps
        .iter()
        .map(|step| format!("expand-{}", step.as_str()))
        .collect();
    points.push("switch".to_owned());
    points
}

/// The open expansion as `hoist db status --json` says it.
fn open_expansion(site: &Site) -> serde_json::Value {
    let status = site
        .app
        .env
        .hoist()
        .args(["db", "status", "--json"])
        .run_json();
    status["expansion"]["open"].clone()
}

#[test]
fn kill_at_every_expansion_step_then_recover_while_the_site_serves() {
    let site = Site::start(Shape::V1);
    let (app, url) = (&site.app, site.postgres.url.as_str());
    let before = schema_dump(url);
    let load = site.load(2, "kill");
    load.wait_for_more(100);
    let (v2, artifact) = app.build(Shape::Rename);
    let deploy = ["deploy", "-q", artifact.to_str().unwrap()];

    for point in kill_points() {
        app.env.kill_at(&deploy, &point);
        app.env.hoist().arg("recover").run();
        let open = open_expansion(&site);
        assert_eq!(
            open["step"], "expanded",
            "after a kill at `{point}` and recover: {open}"
        );
        load.wait_for_more(50);
        // Recover finished the expansion; it undid the deploy (or, past
        // the switch, finished it). The same deploy again joins the expansion.
        if app.env.live().as_deref() == Some(site.old.as_str()) {
            app.env.hoist().args(deploy).run();
        }
        assert_eq!(app.env.live().as_deref(), Some(v2.as_str()), "`{point}`");
        load.wait_for_more(100);
        assert_eq!(load.failed(), 0, "requests failed by `{point}`");
        // Back to the old shape for the next step: route swap, stop the
        // new release, abort.
        app.env.hoist().args(["rollback", "--with-db", "-q"]).run();
        assert_same_schema(
            &before,
            &schema_dump(url),
            &format!("`{point}` rolled back"),
        );
        load.wait_for_more(50);
    }

    // An abort killed half-way is finished by recover.
    app.env.hoist().args(deploy).run();
    load.wait_for_more(50);
    app.env.hoist().args(["rollback", "-q"]).run();
    app.wait_cold(&v2);
    app.env.kill_at(&["db", "abort"], "expand-aborting");
    app.env.hoist().arg("recover").run();
    assert!(
        open_expansion(&site).is_null(),
        "recover finished the abort"
    );
    assert_same_schema(&before, &schema_dump(url), "the abort recovered");
    load.wait_for_more(50);

    // A contract killed half-way is finished by recover.
    app.env.hoist().args(deploy).run();
    load.wait_for_more(50);
    app.wait_cold(&site.old);
    app.env.kill_at(&["db", "complete"], "expand-completing");
    app.env.hoist().arg("recover").run();
    assert!(
        open_expansion(&site).is_null(),
        "recover finished the contract"
    );
    load.wait_for_more(100);
    let outcome = load.finish();
    outcome.assert_no_failure("kills and recovers");
    assert_rows(
        url,
        "public",
        Shape::Rename,
        &outcome.rows,
        "after the contract",
    );
    assert_rows(
        url,
        &search_path(&v2, Shape::Rename),
        Shape::Rename,
        &outcome.rows,
        "as the new release",
    );
}
