//! The agent as the owner of what is live: its own rollback goes through
//! the locked, journaled path and never moves code onto a schema it
//! predates; `current` is written before the route moves; and each release
//! runs with the `[process]` it ships.

mod util;

use serde_json::Value;
use std::time::{Duration, Instant};
use util::agent_process::{agent_config_with, free_port, AgentProcess};
use util::Env;

/// A GET through the agent: (status code, the release that answered).
fn get(port: u16, path: &str) -> (u16, String) {
    let (code, headers, _) = util::http::get(port, path);
    let release = util::http::header(&headers, "x-hoist-release").unwrap_or_default();
    (code, release.to_owned())
}

/// Builds version `version` of the source and deploys it; returns the
/// release id and the deploy's output.
fn deploy(env: &Env, version: &str, code: i32) -> (String, std::process::Output) {
    env.set_version(version);
    let (id, artifact) = env.build();
    let output = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .code(code)
        .run();
    (id, output)
}

/// The newest `hoist history --json` event with one of `ops`, waiting
/// (bounded) until one appears; `poke` runs before each look.
fn wait_event(env: &Env, ops: &[&str], within: Duration, mut poke: impl FnMut()) -> Option<Value> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        poke();
        let history = env.hoist().args(["history", "--json"]).run_json();
        let found = history
            .as_array()
            .into_iter()
            .flatten()
            .find(|event| ops.iter().any(|op| event["op"] == *op));
        if let Some(event) = found {
            return Some(event.clone());
        }
    }
    None
}

// The agent's automatic rollback moved the code back onto a schema it predates (a `phase=post` migration applied), with no lock and no journal.
#[test]
fn auto_rollback_moves_code_onto_newer_schema() {
    let port = free_port();
    let config = agent_config_with(
        port,
        "healthy_after = 1\nwatch = \"60s\"",
        "[database]\nurl = \"sqlite://shared/app.db\"",
    );
    let env = Env::with_config(&config);
    env.write(
        "migrations/0001_products.up.sql",
        "CREATE TABLE products (id INTEGER PRIMARY KEY, legacy_code TEXT);\n",
    );
    env.write(
        "migrations/0001_products.down.sql",
        "DROP TABLE products;\n",
    );
    let (v1, _) = deploy(&env, "1", 0);
    let _agent = AgentProcess::start(&env);
    assert_eq!(get(port, "/"), (200, v1.clone()));

    // v2 contracts the schema after the switch, and answers 500 to everything.
    env.write(
        "migrations/0002_drop_legacy.up.sql",
        "-- hoist: phase=post\nALTER TABLE products DROP COLUMN legacy_code;\n",
    );
    env.write(
        "migrations/0002_drop_legacy.down.sql",
        "ALTER TABLE products ADD COLUMN legacy_code TEXT;\n",
    );
    env.write("fail-requests", "");
    let (v2, _) = deploy(&env, "2", 0);
    let status = env.status();
    assert_eq!(status["schema"]["pending"], 0, "{status}");

    // Enough 5xx for the watch; it must refuse rather than roll the code back.
    // (The code before recorded its rollback as a `rollback`.)
    let ops = ["auto-rollback", "rollback"];
    let event = wait_event(&env, &ops, Duration::from_secs(60), || {
        for _ in 0..25 {
            let _ = get(port, "/");
        }
    })
    .expect("no automatic rollback was recorded");
    assert_eq!(event["outcome"], "refused", "{event}");
    assert_eq!(event["to"], v1.as_str(), "{event}");
    let said = format!("{} {}", event["reason"], event["detail"]);
    assert!(said.contains("hoist rollback --with-db"), "{event}");
    assert!(said.contains("0002_drop_legacy"), "{event}");

    let status = env.status();
    assert_eq!(status["live"], v2.as_str(), "{status}");
    assert_eq!(status["agent"]["live"]["release"], v2.as_str(), "{status}");
    let told = status["agent"]["last_auto_rollback"].as_str().unwrap_or("");
    assert!(told.contains("hoist rollback --with-db"), "{status}");
    assert_eq!(get(port, "/").1, v2);
}

// `Agent::switch` moved the route before writing `current`: when that failed, the candidate served traffic while deploy recorded it failed.
#[test]
fn route_moved_before_current_was_written() {
    let port = free_port();
    let env = Env::with_config(&agent_config_with(port, "healthy_after = 1", ""));
    let (v1, _) = deploy(&env, "1", 0);
    let _agent = AgentProcess::start(&env);
    assert_eq!(get(port, "/"), (200, v1.clone()));

    // The agent makes `current` as a new link renamed over the old one; a
    // directory where that link goes makes writing `current` fail.
    let agent_pid = env.status()["agent"]["pid"].as_u64().unwrap();
    let blocker = env.site().join(format!(".current.tmp-{agent_pid}"));
    std::fs::create_dir_all(blocker.join("in-the-way")).unwrap();
    let (v2, output) = deploy(&env, "2", 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("current"), "{stderr}");

    for _ in 0..20 {
        assert_eq!(get(port, "/"), (200, v1.clone()));
    }
    let status = env.status();
    assert_eq!(status["live"], v1.as_str(), "{status}");
    assert_eq!(status["agent"]["live"]["release"], v1.as_str(), "{status}");
    let target = std::fs::read_link(env.site().join("current")).unwrap();
    assert!(target.ends_with(&v1), "{}", target.display());
    let running = util::app_processes::releases_running(&env.site());
    assert!(!running.contains(&v2), "the refused candidate still runs");

    // Once the way is clear, the next deploy goes through.
    std::fs::remove_dir_all(&blocker).unwrap();
    let (v3, _) = deploy(&env, "3", 0);
    assert_eq!(get(port, "/"), (200, v3.clone()));
    assert_eq!(env.status()["live"], v3.as_str());
}

/// A WSGI app for gunicorn that names its release.
const WSGI_APP: &str = r#"
import os

def app(environ, start_response):
    release = os.environ.get("HOIST_RELEASE", "")
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-App-Release", release)])
    return [("served by " + release + "\n").encode()]
"#;

/// The workers of the gunicorn master in process group `group`.
fn gunicorn_workers(group: u32) -> usize {
    let stat = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    // Fields after the command: state, ppid, pgrp.
    let fields = |text: &str| -> Vec<u32> {
        let rest = &text[text.rfind(')').map_or(0, |at| at + 2)..];
        rest.split(' ')
            .skip(1)
            .take(2)
            .filter_map(|field| field.parse().ok())
            .collect()
    };
    let members: Vec<(u32, u32, String)> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = stat(pid)?;
            let fields = fields(&stat);
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (fields.get(1) == Some(&group)).then(|| (pid, fields[0], name.trim().to_owned()))
        })
        .collect();
    // The script's name, for master and workers alike (the `sh -c` around them is `sh`).
    let is_gunicorn = |name: &str| name == "gunicorn";
    let Some(master) = members.iter().find(|(_, parent, name)| {
        is_gunicorn(name)
            && !members
                .iter()
                .any(|(pid, _, other)| pid == parent && is_gunicorn(other))
    }) else {
        return 0;
    };
    members
        .iter()
        .filter(|(_, parent, _)| *parent == master.0)
        .count()
}

/// Waits (bounded) until the live process group has `want` workers; returns the last count.
fn wait_workers(env: &Env, want: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pid = env.status()["agent"]["live"]["pid"].as_u64().unwrap() as u32;
        let workers = gunicorn_workers(pid);
        if workers == want || Instant::now() >= deadline {
            return workers;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `[process] command` with `arguments` for gunicorn.
fn gunicorn(arguments: &str) -> String {
    format!("command = \"gunicorn --bind 127.0.0.1:$PORT --graceful-timeout 2 {arguments}\"")
}

// The agent ran every release with the `[process]` it read at start: a typo in a release's command went live as "started and healthy", `--workers 3` kept 2.
#[test]
fn release_process_spec_ignored() {
    let port = free_port();
    let site_process = format!(
        "healthy_after = 1\nwatch = \"0s\"\n{}",
        gunicorn("--workers 2 app:app")
    );
    let env = Env::with_config(&agent_config_with(port, &site_process, ""));
    env.write("app.py", WSGI_APP);
    let (v1, _) = deploy(&env, "1", 0);
    let _agent = AgentProcess::start(&env);
    assert_eq!(get(port, "/"), (200, v1.clone()));
    assert_eq!(wait_workers(&env, 2), 2);

    // v2 ships a typo in its own command: it must not go live.
    let typo = format!(
        "healthy_after = 1\nwatch = \"0s\"\nhealth_timeout = \"10s\"\n{}",
        gunicorn("--workers 2 app:appp")
    );
    env.write("hoist.toml", &agent_config_with(port, &typo, ""));
    let (_, output) = deploy(&env, "2", 1);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!said.contains("started and healthy"), "{said}");
    assert!(said.contains("did not become ready"), "{said}");
    assert_eq!(get(port, "/"), (200, v1.clone()));

    // v3 asks for 3 workers in its own `[process]`.
    let three = format!(
        "healthy_after = 1\nwatch = \"0s\"\n{}",
        gunicorn("--workers 3 app:app")
    );
    env.write("hoist.toml", &agent_config_with(port, &three, ""));
    let (v3, _) = deploy(&env, "3", 0);
    assert_eq!(get(port, "/"), (200, v3.clone()));
    assert_eq!(wait_workers(&env, 3), 3);
    let status = env.status();
    let command = status["agent"]["live"]["command"].as_str().unwrap_or("");
    assert!(command.contains("--workers 3 app:app"), "{status}");
}

/// The releases `hoist status` lists as warm.
fn warm(env: &Env) -> Vec<String> {
    env.status()["agent"]["warm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|warm| warm["release"].as_str().unwrap().to_owned())
        .collect()
}

// Holding a release that was still warm started it a second time; the
// promote then took the warm copy and left the held one with its canary
// share of the clients.
#[test]
fn promote_of_a_warm_release_left_the_canary_running() {
    let port = free_port();
    let env = Env::with_config(&agent_config_with(port, "", ""));
    let _agent = AgentProcess::start(&env);
    env.deploy_version("1.0.0");
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    env.hoist().args(["rollback", "-q"]).run();
    assert_eq!(warm(&env), std::slice::from_ref(&v2));
    env.hoist()
        .args(["deploy", "-q", "--hold"])
        .arg(&artifact)
        .run();
    assert!(
        warm(&env).is_empty(),
        "held, not also warm: {:?}",
        warm(&env)
    );
    env.hoist().args(["canary", "--percent", "50"]).run();
    env.hoist().args(["promote", "-q"]).run();
    let status = env.status();
    assert_eq!(status["agent"]["live"]["release"], v2.as_str());
    assert!(status["agent"]["candidate"].is_null(), "{status}");
}

// After `kill -9` of the agent and a file-level rollback, the restarted
// agent ran the live release twice: live, and again as warm.
#[test]
fn restored_agent_ran_the_live_release_twice() {
    let port = free_port();
    let env = Env::with_config(&agent_config_with(port, "", ""));
    let mut agent = AgentProcess::start(&env);
    let v1 = env.deploy_version("1.0.0");
    env.deploy_version("2.0.0");
    assert_eq!(warm(&env), std::slice::from_ref(&v1));
    agent.kill9();
    env.hoist().args(["rollback", "-q"]).run();
    let _agent = AgentProcess::start(&env);
    let status = env.status();
    assert_eq!(status["agent"]["live"]["release"], v1.as_str(), "{status}");
    assert!(!warm(&env).contains(&v1), "live and warm: {status}");
}

// After `hoist agent --upgrade` inside a release's watch window, nobody
// watched it any more: a release answering 5xx stayed live.
#[test]
fn upgrade_dropped_the_after_switch_watch() {
    let port = free_port();
    let env = Env::with_config(&agent_config_with(
        port,
        "healthy_after = 1\nwatch = \"60s\"",
        "",
    ));
    let (v1, _) = deploy(&env, "1", 0);
    let _old = AgentProcess::start(&env);
    env.write("fail-requests", "");
    let (v2, _) = deploy(&env, "2", 0);
    assert_eq!(env.live(), Some(v2));
    let _new = AgentProcess::upgrade(&env);
    let event = wait_event(&env, &["auto-rollback"], Duration::from_secs(60), || {
        for _ in 0..25 {
            let _ = get(port, "/");
        }
    })
    .expect("the new agent did not watch on");
    assert_eq!(event["outcome"], "ok", "{event}");
    assert_eq!(env.live(), Some(v1));
}
