//! The link walk (`[deploy.smoke] crawl`, `hoist walk`): a real static
//! file server (Python's `http.server`, answering 404 for a missing file)
//! behind the real agent. A release with a dead link never takes traffic;
//! the report names the dead link and the page that links to it.

mod util;

use std::path::Path;
use util::agent_process::{agent_config_with, free_port, AgentProcess};
use util::http::get;
use util::Env;

const PYTHON: &str = "/usr/bin/python3";

/// An agent site whose app is `python3 -m http.server` serving the
/// release's `public/`, walked from `/` before each deploy's switch.
fn static_site(port: u16) -> Env {
    assert!(
        Path::new(PYTHON).exists(),
        "the walk tests serve static files with Python's http.server: install the Debian package `python3`"
    );
    let process = format!(
        "command = \"{PYTHON} -m http.server $PORT --bind 127.0.0.1 --directory public\"\nhealth_path = \"/index.html\""
    );
    Env::with_config(&agent_config_with(
        port,
        &process,
        "[deploy.smoke]\ncrawl = \"/\"\ndepth = 3\nmax_pages = 50\ntimeout = \"5s\"\n",
    ))
}

/// Writes `pages` (path, body) under `public/` and builds version `version`.
fn release(env: &Env, version: &str, pages: &[(&str, &str)]) -> (String, std::path::PathBuf) {
    env.set_version(version);
    let public = env.src().join("public");
    let _ = std::fs::remove_dir_all(&public);
    for (path, body) in pages {
        env.write(&format!("public/{path}"), body);
    }
    env.build()
}

const GOOD: &[(&str, &str)] = &[
    (
        "index.html",
        r#"<html><head><link rel="stylesheet" href="style.css"></head><body>v1 <a href="docs/guide.html#top">guide</a> <a href="mailto:ops@shop.test">mail</a> <a href="http://elsewhere.invalid/x">away</a></body></html>"#,
    ),
    ("style.css", "body { color: black }\n"),
    (
        "docs/guide.html",
        r#"<html><body><a href="../index.html">home</a> <img src="/img/logo.png"></body></html>"#,
    ),
    ("img/logo.png", "png\n"),
];

/// v2's front page links to a page the release does not ship.
const DEAD: &[(&str, &str)] = &[
    (
        "index.html",
        r#"<html><body>v2 <a href="docs/guide.html">guide</a> <a href="/pricing.html">pricing</a></body></html>"#,
    ),
    (
        "docs/guide.html",
        r#"<html><body><a href="../index.html">home</a></body></html>"#,
    ),
];

#[test]
fn dead_link_in_a_new_release_fails_the_deploy_before_the_switch() {
    let port = free_port();
    let env = static_site(port);
    let (v1, artifact) = release(&env, "1", GOOD);
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let _agent = AgentProcess::start(&env);
    let (status, _, body) = get(port, "/");
    assert_eq!(status, 200);
    assert!(body.contains("v1"), "{body}");

    let (v2, artifact) = release(&env, "2", DEAD);
    let output = env
        .hoist()
        .args(["deploy"])
        .arg(&artifact)
        .code(1)
        .stderr_has("dead link")
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let dead = format!(
        "http://127.0.0.1:{port}/pricing.html (answered 404), linked from http://127.0.0.1:{port}/"
    );
    assert!(
        stderr.contains(&dead),
        "the report names the dead link and its page:\n{stderr}"
    );
    assert!(!stderr.contains("guide.html (answered"), "{stderr}");

    assert_eq!(env.live().as_deref(), Some(v1.as_str()), "`current` stayed");
    let (status, _, body) = get(port, "/");
    assert_eq!(status, 200);
    assert!(body.contains("v1"), "users still get v1: {body}");
    let agent = &env.status()["agent"];
    assert!(
        agent["candidate"].is_null(),
        "the candidate was stopped: {agent}"
    );
    let releases = env.releases();
    assert!(
        releases
            .iter()
            .any(|(id, state)| id == &v2 && state == "failed"),
        "{releases:?}"
    );

    // The same failure as JSON: its kind, and every dead link in its message.
    let (_, artifact) = release(&env, "3", DEAD);
    let output = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .code(1)
        .run();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["error"]["kind"], "dead-links", "{json}");
    assert!(
        json["error"]["message"].as_str().unwrap().contains(&dead),
        "{json}"
    );
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
}

#[test]
fn a_release_whose_links_all_answer_goes_live() {
    let port = free_port();
    let env = static_site(port);
    let (_, artifact) = release(&env, "1", GOOD);
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let _agent = AgentProcess::start(&env);

    let (v2, artifact) = release(&env, "2", GOOD);
    let output = env.hoist().args(["deploy"]).arg(&artifact).run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // `/`, style.css, the guide, the logo and `/index.html` (the guide's
    // home link): the mailto and the other host are not followed.
    assert!(stderr.contains("walked 5 page(s)"), "{stderr}");
    assert!(stderr.contains("0 dead link(s)"), "{stderr}");
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));
    let (status, _, _) = get(port, "/docs/guide.html");
    assert_eq!(status, 200);
}

#[test]
fn hoist_walk_lists_the_live_sites_dead_links_and_exits_1() {
    let port = free_port();
    let env = static_site(port);
    // Deployed before the agent runs: nothing to walk yet (said, not hidden).
    let (_, artifact) = release(&env, "1", DEAD);
    env.hoist()
        .args(["deploy"])
        .arg(&artifact)
        .stderr_has("no link walk ran")
        .run();
    let _agent = AgentProcess::start(&env);

    let json = env.hoist().args(["walk", "--json"]).code(1).run_json();
    let dead = json["dead"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{json}");
    assert_eq!(
        dead[0]["url"],
        format!("http://127.0.0.1:{port}/pricing.html")
    );
    assert_eq!(dead[0]["status"], 404);
    // Both names of the front page link to it.
    assert_eq!(
        dead[0]["linked_from"],
        serde_json::json!([
            format!("http://127.0.0.1:{port}/"),
            format!("http://127.0.0.1:{port}/index.html")
        ])
    );

    let output = env.hoist().args(["walk"]).code(1).run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("dead link: "), "{stdout}");
    assert!(stdout.contains("pricing.html (answered 404)"), "{stdout}");

    // A page whose links all answer, given as a URL, one hop deep: the
    // guide and its home link, whose own links are not followed.
    let url = format!("http://127.0.0.1:{port}/docs/guide.html");
    let json = env
        .hoist()
        .args(["walk", "--json", "--depth", "1", &url])
        .run_json();
    assert_eq!(json["dead"], serde_json::json!([]), "{json}");
    assert_eq!(json["pages"], 2, "{json}");

    // A held candidate without the dead link: `--candidate` walks it
    // through the test routing, while the live site still has it.
    let (_, artifact) = release(&env, "2", GOOD);
    env.hoist()
        .args(["deploy", "-q", "--hold"])
        .arg(&artifact)
        .run();
    let json = env
        .hoist()
        .args(["walk", "--candidate", "--json"])
        .run_json();
    assert_eq!(json["dead"], serde_json::json!([]), "{json}");
    env.hoist().args(["walk", "-q"]).code(1).run();
}

/// External mode: the app's own restart script (a pid file, Python's
/// `http.server` started in the background), no agent.
fn external_site(port: u16) -> Env {
    assert!(
        Path::new(PYTHON).exists(),
        "the walk tests serve static files with Python's http.server: install the Debian package `python3`"
    );
    let env = Env::with_config(&format!(
        r#"
[app]
name = "shop"
version = "1"
[deploy]
root = "../site"
restart = "sh restart.sh"
health = "http://127.0.0.1:{port}/index.html"
health_timeout = "10s"
[deploy.smoke]
crawl = "/"
"#
    ));
    // Stops the running server (by its pid file), waits until it is gone so
    // the port is free, and starts this release's in the background.
    env.write(
        "restart.sh",
        &format!(
            r#"pid_file="$HOIST_ROOT/app.pid"
if [ -f "$pid_file" ]; then
  old=$(cat "$pid_file")
  kill "$old" 2>/dev/null
  while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
fi
nohup {PYTHON} -m http.server {port} --bind 127.0.0.1 --directory public >/dev/null 2>&1 &
echo $! > "$pid_file"
"#
        ),
    );
    env
}

/// Stops the server the restart script left running, by its pid.
struct PidFile(std::path::PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[test]
fn without_an_agent_dead_links_switch_back_after_the_restart() {
    let port = free_port();
    let env = external_site(port);
    let _server = PidFile(env.site().join("app.pid"));
    let (v1, artifact) = release(&env, "1", GOOD);
    env.hoist()
        .args(["deploy"])
        .arg(&artifact)
        .stderr_has("0 dead link(s)")
        .run();
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));

    let (v2, artifact) = release(&env, "2", DEAD);
    let json = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .code(1)
        .run_json();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "http://127.0.0.1:{port}/pricing.html (answered 404), linked from http://127.0.0.1:{port}/"
        )),
        "{json}"
    );
    assert!(message.contains("switched back"), "{json}");
    assert_eq!(env.live().as_deref(), Some(v1.as_str()), "switched back");
    let (status, _, body) = get(port, "/");
    assert_eq!(status, 200);
    assert!(body.contains("v1"), "v1 serves again: {body}");
    let releases = env.releases();
    assert!(
        releases
            .iter()
            .any(|(id, state)| id == &v2 && state == "failed"),
        "{releases:?}"
    );
}
