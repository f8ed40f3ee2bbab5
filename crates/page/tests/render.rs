//! Rendering is a pure function of the model: what users typed is text,
//! the page is self-contained, and the stable ids are there.

use hoist_page::model::{
    HostRow, Operation, ReleaseView, Role, SchemaLine, SitePage, StagePage, Traffic,
};

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&";

fn timestamp() -> jiff::Timestamp {
    "2026-12-01T06:00:00Z".parse().unwrap()
}

fn site() -> SitePage {
    let release = |id: &str, role| ReleaseView {
        id: id.to_owned(),
        role,
        version: Some(HOSTILE.to_owned()),
        revision: None,
        built_at: None,
        deployed_at: Some(timestamp()),
        deployed_by: Some(HOSTILE.to_owned()),
        reason: Some(HOSTILE.to_owned()),
        until: None,
        percent: None,
    };
    SitePage {
        generator: "hoist test".to_owned(),
        generated_at: timestamp(),
        root: "/srv/shop".to_owned(),
        host: "web1".to_owned(),
        releases: vec![release("R2\"><b>", Role::Live), release("R1", Role::Warm)],
        data: None,
        schema: SchemaLine::NotRead,
        maintenance: None,
        agent: None,
        traffic: vec![Traffic {
            release: "R2\"><b>".to_owned(),
            requests: 3,
            ..Traffic::default()
        }],
        operations: vec![Operation {
            op: "deploy".to_owned(),
            outcome: "ok".to_owned(),
            from: None,
            to: Some("R2".to_owned()),
            user: HOSTILE.to_owned(),
            reason: Some(HOSTILE.to_owned()),
            failure: None,
            finished_at: timestamp(),
            duration_ms: 5,
        }],
        problems: vec![HOSTILE.to_owned()],
    }
}

#[test]
fn what_users_typed_is_escaped_everywhere() {
    let html = hoist_page::render(&site());
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;'&amp;"),
        "{html}"
    );
    assert!(
        html.contains(r#"id="live-release" data-release="R2&quot;&gt;&lt;b&gt;""#),
        "{html}"
    );
    assert!(
        html.contains(r#"data-role="warm" data-release="R1""#),
        "{html}"
    );
}

#[test]
fn the_page_is_self_contained() {
    let html = hoist_page::render(&site());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(r#"<meta name="generator" content="hoist test">"#));
    for outside in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(outside), "`{outside}` in {html}");
    }
}

#[test]
fn a_drifting_host_is_marked_with_its_kinds() {
    let row = |host: &str, drift: Vec<(String, String)>| HostRow {
        host: host.to_owned(),
        answered: true,
        live: Some("R1".to_owned()),
        version: None,
        deployed_at: None,
        deployed_by: None,
        previous: None,
        data: None,
        schema: None,
        agent: None,
        maintenance: false,
        drift,
    };
    let page = StagePage {
        generator: "hoist test".to_owned(),
        generated_at: timestamp(),
        stage: "production".to_owned(),
        release: Some("R2".to_owned()),
        data: None,
        hosts: vec![
            row("web1", vec![]),
            row(
                "web2",
                vec![
                    (
                        "release".to_owned(),
                        "runs R1, the stage runs R2".to_owned(),
                    ),
                    ("drained".to_owned(), HOSTILE.to_owned()),
                ],
            ),
        ],
    };
    let html = hoist_page::render_stage(&page);
    assert!(
        html.contains(r#"<tr class="host" data-host="web1""#),
        "{html}"
    );
    assert!(html.contains(r#"<tr class="host drift" data-host="web2" data-live="R1" data-drift="release drained">"#), "{html}");
    assert!(!html.contains("<img"), "{html}");
}
