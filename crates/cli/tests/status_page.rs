//! `hoist status --html`: the status page, rendered by real headless
//! Chromium. One site in agent mode (live, warm, traffic, maintenance,
//! a hostile reason), one external-mode site, and a stage of two real
//! ssh hosts where one is left behind and shows as drift.

mod util;

use serde_json::Value;
use std::path::{Path, PathBuf};
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::stage_fixture::{StageFixture, StageOptions};
use util::{chromium, Env};

/// A reason a user typed that would run as script if it were not escaped.
const HOSTILE: &str = "<script>alert('owned')</script> & \"quoted\"";

/// `hoist status --json --html FILE [extra]` in `env`; its report.
fn write_page(env: &Env, file: &Path, extra: &[&str]) -> Value {
    let report = env
        .hoist()
        .args(["status", "--json", "--html"])
        .arg(file)
        .args(extra)
        .run_json();
    assert_eq!(report["html"], file.display().to_string(), "{report}");
    let written = std::fs::metadata(file).unwrap().len();
    assert_eq!(report["bytes"].as_u64(), Some(written), "{report}");
    report
}

/// Builds and deploys `version` with `--reason reason` and `extra`; the
/// release id.
fn deploy(env: &Env, version: &str, reason: &str, extra: &[&str]) -> String {
    env.set_version(version);
    env.write("index.html", &format!("<h1>shop {version}</h1>\n"));
    let (id, artifact) = env.build();
    env.hoist()
        .args(["deploy", "--reason", reason])
        .args(extra)
        .arg(artifact)
        .run();
    id
}

/// The opening tag of the first element whose attributes include `attrs`.
fn element<'a>(dom: &'a str, attrs: &str) -> &'a str {
    let at = dom
        .find(attrs)
        .unwrap_or_else(|| panic!("no element with `{attrs}` in the DOM:\n{dom}"));
    let start = dom[..at].rfind('<').unwrap();
    let end = at + dom[at..].find('>').unwrap();
    &dom[start..=end]
}

/// The text of the element (up to its first child's close) with `id`.
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let tag = element(dom, &format!("id=\"{id}\""));
    let at = dom.find(tag).unwrap() + tag.len();
    let end = at + dom[at..].find("</").unwrap();
    &dom[at..end]
}

fn docs_png() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/status-page.png")
}

#[test]
fn status_page_in_chromium_names_live_and_warm_releases_and_escapes_reasons() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    let v1 = deploy(&env, "1", "first release", &[]);
    let _agent = AgentProcess::start(&env);
    let v2 = deploy(&env, "2", HOSTILE, &[]);
    // Traffic the agent counts for v2.
    let sent = 7;
    for _ in 0..sent {
        let (code, _, _) = util::http::get(port, "/");
        assert_eq!(code, 200);
    }
    let v3 = deploy(&env, "3", "try the new checkout", &["--hold"]);
    env.hoist()
        .args(["maint", "on", "--message", "Reindexing the shelves"])
        .args(["--until", "30m", "--path", "/closed/"])
        .run();
    let until: jiff::Timestamp = env.status()["agent"]["maintenance"]["until"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let html = env.dir.path().join("status.html");
    let report = write_page(&env, &html, &[]);
    assert_eq!(report["page"]["releases"][0]["id"], v2.as_str(), "{report}");
    let profile = env.dir.path().join("chromium-profile");
    let dom = chromium::dump_dom(&html, &profile);

    // The live element names the live release; the warm one is shown as warm.
    assert!(
        element(&dom, "id=\"live-release\"").contains(&format!("data-release=\"{v2}\"")),
        "{dom}"
    );
    assert_eq!(text_of(&dom, "live-release"), v2);
    element(&dom, &format!("data-role=\"live\" data-release=\"{v2}\""));
    element(&dom, &format!("data-role=\"warm\" data-release=\"{v1}\""));
    element(
        &dom,
        &format!("data-role=\"candidate\" data-release=\"{v3}\""),
    );
    assert!(
        dom.contains("try the new checkout"),
        "who held it and why:\n{dom}"
    );
    // The hostile reason is text, never markup: the page has no script at all.
    assert!(!dom.contains("<script"), "a reason became markup:\n{dom}");
    assert!(
        dom.contains("&lt;script&gt;alert('owned')&lt;/script&gt; &amp; \"quoted\""),
        "the reason is shown escaped:\n{dom}"
    );
    assert!(dom.contains("first release"), "{dom}");
    // Per-release traffic: the agent's counter for v2 counts what was sent.
    let row = element(&dom, &format!("tr data-release=\"{v2}\""));
    assert!(row.contains(&format!("data-requests=\"{sent}\"")), "{row}");
    // Maintenance and its end in GMT, as an HTTP date.
    let gmt = until.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let at = dom
        .find("id=\"maintenance-until\"")
        .expect("a maintenance end");
    let shown = &dom[at..dom[at..].find("</span>").map_or(dom.len(), |end| at + end)];
    assert!(
        shown.contains(&gmt),
        "`{gmt}` is not the end shown: {shown}"
    );
    assert!(dom.contains("Reindexing the shelves"), "{dom}");
    // The last operations, from the ledger: the deploys, the hold and the maint.
    let ops = dom.matches("<tr class=\"op\"").count();
    assert!(ops >= 4, "{ops} operation rows:\n{dom}");
    assert!(
        dom.contains("<meta name=\"generator\" content=\"hoist "),
        "{dom}"
    );

    let png = chromium::screenshot(&html, &env.dir.path().join("status.png"), &profile);
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    // `HOIST_UPDATE_DOCS=1 cargo test -p hoist --test status_page` refreshes docs/.
    if std::env::var_os("HOIST_UPDATE_DOCS").is_some() {
        std::fs::write(docs_png(), &png).unwrap();
    }
}

#[test]
fn status_page_of_an_external_mode_site_goes_to_stdout_and_says_no_agent() {
    let env = Env::with_config(&util::sqlite_config(""));
    env.write(
        "migrations/0001_products.up.sql",
        "CREATE TABLE products (id INTEGER PRIMARY KEY);\n",
    );
    env.write(
        "migrations/0001_products.down.sql",
        "DROP TABLE products;\n",
    );
    let v1 = env.deploy_version("1");
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("genes.txt"), "unc-22\n").unwrap();
    let loaded = env
        .hoist()
        .args(["data", "load", "--json", "--label", "WS222"])
        .arg(data.path())
        .run_json();
    let version = loaded["version"].as_str().unwrap().to_owned();
    env.hoist().args(["data", "roll"]).run();
    let output = env.hoist().args(["status", "--html", "-"]).run();
    let html = String::from_utf8(output.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    let file = env.dir.path().join("page.html");
    std::fs::write(&file, &html).unwrap();
    let dom = chromium::dump_dom(&file, &env.dir.path().join("profile"));
    assert_eq!(text_of(&dom, "live-release"), v1);
    assert!(text_of(&dom, "agent").contains("not running"), "{dom}");
    // Data and schema versions.
    let at = dom.find("id=\"data-version\"").unwrap();
    let shown = &dom[at..at + dom[at..].find("</dd>").unwrap()];
    assert!(
        shown.contains(&version) && shown.contains("WS222"),
        "{shown}"
    );
    let at = dom.find("id=\"schema\"").unwrap();
    let shown = &dom[at..at + dom[at..].find("</dd>").unwrap()];
    assert!(shown.contains("products"), "{shown}");
    assert!(dom.contains("id=\"traffic\""), "{dom}");
    // Both on stdout cannot be: a usage error, as JSON.
    let refused = env
        .hoist()
        .args(["status", "--json", "--html", "-"])
        .code(2)
        .run_json();
    assert!(
        refused["error"].to_string().contains("--html -"),
        "{refused}"
    );
}

#[test]
fn stage_page_highlights_the_host_left_on_an_older_release() {
    let options = StageOptions {
        balancer: false,
        waves: "[\"100%\"]",
        ..StageOptions::default()
    };
    let fixture = StageFixture::start(&["web1", "web2"], options);
    let (v1, artifact1) = fixture.build("v1", false);
    fixture.deploy(&artifact1);
    let (v2, artifact2) = fixture.build("v2", false);
    fixture.deploy(&artifact2);
    // web2 goes back to v1 by hand, on the host over ssh: the stage's
    // release is v2 (a tie goes to the newest), so web2 drifts.
    let command = format!(
        "{}/hoist --root {} rollback --reason left-behind",
        fixture.fleet.stage_bin().display(),
        fixture.fleet.stage_root().display()
    );
    let output = fixture.fleet.ssh("web2", &command);
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    fixture.assert_live(&["web1"], &v2);
    fixture.assert_live(&["web2"], &v1);

    let html = fixture.env.dir.path().join("stage.html");
    let report = write_page(&fixture.env, &html, &["--stage", "production"]);
    assert_eq!(report["page"]["release"], v2.as_str(), "{report}");
    let dom = chromium::dump_dom(&html, &fixture.env.dir.path().join("profile"));
    assert_eq!(text_of(&dom, "stage-release"), v2);
    let web1 = element(&dom, "data-host=\"web1\"");
    let web2 = element(&dom, "data-host=\"web2\"");
    assert!(
        !web1.contains("drift\""),
        "web1 runs the stage's release: {web1}"
    );
    assert!(web1.contains(&format!("data-live=\"{v2}\"")), "{web1}");
    assert!(web2.contains("class=\"host drift\""), "{web2}");
    assert!(web2.contains("data-drift=\"release\""), "{web2}");
    assert!(web2.contains(&format!("data-live=\"{v1}\"")), "{web2}");
    assert!(
        dom.contains(&format!("runs {v1}, the stage runs {v2}")),
        "the drift is said:\n{dom}"
    );
}
