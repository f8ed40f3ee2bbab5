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

/// Deploys `version` of the good pages and checks its walk passed and it
/// went live. Five pages: `/`, style.css, the guide, the logo and
/// `/index.html` (the guide's home link); the mailto and the other host
/// are not followed.
fn deploy_walked_clean(env: &Env, version: &str) -> String {
    let (id, artifact) = release(env, version, GOOD);
    let output = env.hoist().args(["deploy"]).arg(&artifact).run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("walked 5 page(s)"), "{stderr}");
    assert!(stderr.contains("0 dead link(s)"), "{stderr}");
    assert_eq!(env.live().as_deref(), Some(id.as_str()));
    id
}

#[test]
fn a_release_whose_links_all_answer_goes_live() {
    let port = free_port();
    let env = static_site(port);
    let (_, artifact) = release(&env, "1", GOOD);
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let _agent = AgentProcess::start(&env);

    deploy_walked_clean(&env, "2");
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

// `crawl = "//127.0.0.3:PORT/x"` started with `/`, passed validation, and
// the walk fetched the other host: "0 dead links", the release went live
// without its own pages walked.
#[test]
fn crawl_path_naming_another_host_walked_that_host() {
    let port = free_port();
    let env = static_site(port);
    let (v1, artifact) = release(&env, "1", GOOD);
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let _agent = AgentProcess::start(&env);
    // The other host, answering 200 to anything: it must never be asked.
    let other = util::HealthServer::start(200);
    let other_host = other
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/healthz");
    for away in [
        format!("//{other_host}/from-deploy"),
        format!("/\\\\{other_host}/x"),
    ] {
        let config = std::fs::read_to_string(env.src().join("hoist.toml")).unwrap();
        let config = config.replace("crawl = \"/\"", &format!("crawl = \"{away}\""));
        env.write("hoist.toml", &config);
        let json = env.hoist().args(["walk", "--json"]).code(1).run_json();
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("deploy.smoke.crawl"),
            "`hoist walk` refuses `{away}` as config: {json}"
        );
        let json = env.hoist().args(["build", "--json"]).code(1).run_json();
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("deploy.smoke.crawl"),
            "`hoist build` refuses `{away}`: {json}"
        );
        let config = config.replace(&format!("crawl = \"{away}\""), "crawl = \"/\"");
        env.write("hoist.toml", &config);
    }
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
}

/// Starts an agent on a site where nothing was deployed yet.
fn agent_on_an_empty_site(env: &Env) -> AgentProcess {
    env.hoist().args(["init", "--site"]).run();
    AgentProcess::start(env)
}

// With an agent and nothing live yet, the candidate's test routing answered
// 503 "No release is running yet": every first deploy's walk found its
// start page dead and the deploy failed.
#[test]
fn first_deploy_with_an_agent_walked_a_503() {
    let port = free_port();
    let env = static_site(port);
    let _agent = agent_on_an_empty_site(&env);
    assert_eq!(get(port, "/").0, 503, "nothing live yet");

    // A dead link still stops the first release: nothing goes live.
    let (v1, artifact) = release(&env, "1", DEAD);
    let output = env.hoist().args(["deploy"]).arg(&artifact).code(1).run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "http://127.0.0.1:{port}/pricing.html (answered 404)"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&format!("http://127.0.0.1:{port}/ (answered 503)")),
        "the candidate itself was walked: {stderr}"
    );
    assert_eq!(env.live(), None, "nothing is live");
    assert!(env.status()["agent"]["candidate"].is_null());
    assert_eq!(get(port, "/").0, 503);
    assert!(env
        .releases()
        .iter()
        .any(|(id, state)| id == &v1 && state == "failed"));

    // A clean first release is walked for real and goes live.
    deploy_walked_clean(&env, "2");
    let (status, _, body) = get(port, "/");
    assert_eq!(status, 200);
    assert!(body.contains("v1 <a"), "GOOD's front page: {body}");
}

// Without an agent the release is live while it is walked, yet the dead
// link failure said "so it did not go live".
#[test]
fn external_dead_links_said_it_did_not_go_live() {
    let port = free_port();
    let env = external_site(port);
    let _server = PidFile(env.site().join("app.pid"));
    let (v1, artifact) = release(&env, "1", GOOD);
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let (_, artifact) = release(&env, "2", DEAD);
    let json = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .code(1)
        .run_json();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(!message.contains("did not go live"), "{message}");
    assert!(
        message.contains("it had gone live for the walk"),
        "{message}"
    );
    assert!(
        message.contains(&format!("switched back to `{v1}`")),
        "{message}"
    );
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
}

// `kill -9` during the external-mode walk: status said it stopped during
// `health`, and `recover` recorded `deploy ok` for a release whose walk
// never finished (dead links and all).
#[test]
fn killed_during_the_walk_recover_recorded_ok_without_walking() {
    let port = free_port();
    let env = external_site(port);
    let _server = PidFile(env.site().join("app.pid"));
    let (v1, artifact) = release(&env, "1", GOOD);
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();

    // A release with a dead link: recover walks again and switches back.
    let (v2, artifact) = release(&env, "2", DEAD);
    env.kill_at(&["deploy", artifact.to_str().unwrap()], "walk");
    assert_eq!(env.status()["pending"]["step"], "walk");
    let json = env.hoist().args(["recover", "--json"]).code(1).run_json();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains("pricing.html (answered 404)"), "{json}");
    assert!(
        message.contains(&format!("switched back to `{v1}`")),
        "{json}"
    );
    assert!(env.status()["pending"].is_null());
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
    assert!(env
        .releases()
        .iter()
        .any(|(id, state)| id == &v2 && state == "failed"));
    let history = env.hoist().args(["history", "--json"]).run_json();
    let recorded_ok = history
        .as_array()
        .into_iter()
        .flatten()
        .chain(history["events"].as_array().into_iter().flatten())
        .any(|event| event["to"] == v2.as_str() && event["outcome"] == "ok");
    assert!(!recorded_ok, "no `deploy ok` for `{v2}`: {history}");
    let (status, _, body) = get(port, "/");
    assert_eq!(status, 200);
    assert!(body.contains("v1"), "{body}");

    // A release whose links all answer: recover walks it and finishes.
    let (v3, artifact) = release(&env, "3", GOOD);
    env.kill_at(&["deploy", artifact.to_str().unwrap()], "walk");
    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    assert_eq!(recovered["action"], "finished", "{recovered}");
    assert_eq!(env.live().as_deref(), Some(v3.as_str()));
}

// `hoist walk ftp://x/` exited 1 with kind `error`: a URL the walk cannot
// fetch is a usage error.
#[test]
fn walk_of_a_non_http_url_was_not_a_usage_error() {
    let env = Env::new();
    for url in ["ftp://x/", "https://127.0.0.1:1/", "not a url"] {
        let json = env.hoist().args(["walk", "--json", url]).code(2).run_json();
        assert_eq!(json["error"]["kind"], "usage", "{url}: {json}");
    }
}

/// A loopback HTTP/1.1 server answering each path from a fixed table (an
/// unknown path: 404), one connection at a time; stops on drop.
struct PathServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PathServer {
    /// `routes`: path, then the status line's code, extra header lines and body.
    fn start(routes: Vec<(&'static str, u16, String, Vec<u8>)>) -> PathServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut head = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let _ = reader.read_line(&mut head);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                    line.clear();
                }
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let (status, headers, body) = routes
                    .iter()
                    .find(|(route, ..)| *route == path)
                    .map(|(_, status, headers, body)| (*status, headers.clone(), body.clone()))
                    .unwrap_or((404, String::new(), b"no".to_vec()));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        PathServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for PathServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const HTML: &str = "content-type: text/html\r\n";

// /r1 redirecting to /r2 and back was not reported: the walk fetched each
// once, took the redirects for links, and said "0 dead links".
#[test]
fn redirect_loop_was_not_reported() {
    let server = PathServer::start(vec![
        (
            "/",
            200,
            HTML.to_owned(),
            br#"<a href="/r1">loop</a> <a href="/ok">ok</a>"#.to_vec(),
        ),
        ("/r1", 302, "location: /r2\r\n".to_owned(), Vec::new()),
        ("/r2", 302, "location: /r1\r\n".to_owned(), Vec::new()),
        ("/ok", 301, "location: /fine\r\n".to_owned(), Vec::new()),
        ("/fine", 200, HTML.to_owned(), b"fine".to_vec()),
    ]);
    let env = Env::new();
    let url = format!("http://127.0.0.1:{}/", server.port);
    let json = env
        .hoist()
        .args(["walk", "--json", &url])
        .code(1)
        .run_json();
    let dead = json["dead"].as_array().unwrap();
    let loop_of = |path: &str| {
        dead.iter()
            .find(|dead| dead["url"] == format!("http://127.0.0.1:{}{path}", server.port))
            .unwrap_or_else(|| panic!("`{path}` is reported: {json}"))
    };
    assert!(
        loop_of("/r1")["problem"]
            .as_str()
            .unwrap()
            .starts_with("redirect loop"),
        "{json}"
    );
    assert_eq!(
        loop_of("/r1")["linked_from"][0],
        url.as_str(),
        "the page that links into the loop: {json}"
    );
    assert_eq!(dead.len(), 2, "/r1 and /r2; /ok's redirect ends: {json}");
}

// A page over the walk's 4 MiB body cap was read in part in silence: its
// links past the cap were never checked, and nothing said so.
#[test]
fn page_over_the_body_cap_was_read_in_part_silently() {
    let mut big = br#"<html><body><a href="/near">near</a>"#.to_vec();
    big.resize(5 << 20, b' ');
    big.extend_from_slice(br#"<a href="/far-and-missing">far</a></body></html>"#);
    let server = PathServer::start(vec![
        (
            "/",
            200,
            HTML.to_owned(),
            br#"<a href="/big">big</a>"#.to_vec(),
        ),
        ("/big", 200, HTML.to_owned(), big),
        ("/near", 200, HTML.to_owned(), b"near".to_vec()),
    ]);
    let env = Env::new();
    let url = format!("http://127.0.0.1:{}/", server.port);
    let big = format!("http://127.0.0.1:{}/big", server.port);
    let json = env.hoist().args(["walk", "--json", &url]).run_json();
    assert_eq!(json["pages"], 3, "/, /big and /near: {json}");
    assert_eq!(json["cut_pages"], serde_json::json!([big]), "{json}");
    let output = env.hoist().args(["walk", &url]).run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("warning: {big} is bigger than 4 MiB")),
        "{stdout}"
    );
}
