//! The agent only ever signals its own children: a restarted agent stops
//! what its predecessor left running, found by recorded identity (pid,
//! start time, boot id), never a stranger that has one of its pids now;
//! and the warm set is capped.

mod util;

use serde_json::{json, Value};
use std::time::Duration;
use util::agent_process::{agent_config_with, free_port, AgentProcess};
use util::app_processes::{releases_running, runs, start_ticks, wait_gone, wait_releases};
use util::Env;

/// An agent site running the example app; `process` lines go into `[process]`.
fn agent_env(port: u16, process: &str) -> Env {
    let process = format!("healthy_after = 1\n{process}");
    let env = Env::with_config(&agent_config_with(port, &process, ""));
    std::fs::remove_file(env.src().join("index.html")).unwrap();
    env
}

/// Builds version `version` of the example app; returns (release, artifact).
fn build(env: &Env, version: &str) -> (String, std::path::PathBuf) {
    env.set_version(version);
    env.write("public/index.html", &format!("page {version}\n"));
    env.build()
}

fn deploy(env: &Env, version: &str) -> String {
    let (release, artifact) = build(env, version);
    env.hoist().args(["deploy", "-q"]).arg(artifact).run();
    release
}

fn state(env: &Env) -> Value {
    let text = std::fs::read_to_string(env.site().join("agent-state.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

fn write_state(env: &Env, state: &Value) {
    let path = env.site().join("agent-state.json");
    std::fs::write(path, serde_json::to_vec_pretty(state).unwrap()).unwrap();
}

/// Waits (bounded) until `agent-state.json` satisfies `done`; returns it.
fn wait_state(env: &Env, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let state = state(env);
        if done(&state) || std::time::Instant::now() >= deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The recorded children with `pid`.
fn recorded(state: &Value, pid: u64) -> bool {
    state["children"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|child| child["pid"] == pid)
}

/// A process that is not the agent's, stopped by pid when the test ends.
struct Stranger(std::process::Child);

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// A restarted agent SIGKILLed every process group whose pid was in `agent-state.json`, stranger or not.
#[test]
fn stale_pid_in_agent_state_is_never_killed() {
    let port = free_port();
    let env = agent_env(port, "");
    let live = deploy(&env, "1");
    // Not a child of any agent: in a session and group of its own, as a reused pid would be.
    let stranger = Stranger(
        std::process::Command::new("setsid")
            .args(["sleep", "300"])
            .spawn()
            .unwrap(),
    );
    let pid = stranger.0.id();
    let ticks = start_ticks(pid).expect("the sleep runs");
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let record = |start_ticks: u64, boot_id: &str| {
        json!({
            "release": live, "pid": pid, "start_ticks": start_ticks,
            "boot_id": boot_id.trim(), "token": "1-2-3", "port": 1, "role": "live",
        })
    };
    let states = [
        // As older versions wrote it: a bare pid.
        json!({ "live": live, "warm": [], "pids": [pid] }),
        // The pid, with another start time (pid reuse) or from another boot.
        json!({ "live": live, "warm": [], "children": [record(ticks + 1, &boot_id)] }),
        json!({ "live": live, "warm": [], "children": [record(ticks, "0c7d7a8e-0000-4000-8000-000000000000")] }),
    ];
    for saved in states {
        write_state(&env, &saved);
        let mut agent = AgentProcess::start(&env);
        // The record is dropped once the agent has checked it (in the background).
        let after = wait_state(&env, Duration::from_secs(30), |state| {
            state["live"] == live.as_str() && !recorded(state, u64::from(pid))
        });
        assert!(!recorded(&after, u64::from(pid)), "never checked: {after}");
        assert!(
            runs(pid, ticks),
            "the agent killed a stranger listed as {saved}"
        );
        assert_eq!(env.status()["agent"]["live"]["release"], live.as_str());
        agent.terminate();
    }
}

// `kill -9` of the agent while it started a candidate left that candidate running forever, holding its port.
#[test]
fn kill_9_while_a_candidate_starts_left_it_running() {
    let port = free_port();
    // The candidate answers its health check with 500 for up to a minute: it is still starting.
    let env = agent_env(port, "health_timeout = \"60s\"");
    let v1 = deploy(&env, "1");
    let mut agent = AgentProcess::start(&env);
    env.write("health-fails", "");
    let (v2, artifact) = build(&env, "2");
    let mut client = std::process::Command::new(util::BIN)
        .args(["deploy", "-q"])
        .arg(&artifact)
        .current_dir(env.src())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Readiness: the candidate is recorded, and listening on its port.
    let starting = wait_state(&env, Duration::from_secs(60), |state| {
        state["children"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|child| child["release"] == v2.as_str() && child["role"] == "starting")
    });
    let candidate = starting["children"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|child| child["release"] == v2.as_str())
        .unwrap_or_else(|| panic!("the candidate was never recorded: {starting}"))
        .clone();
    let pid = candidate["pid"].as_u64().unwrap() as u32;
    let ticks = candidate["start_ticks"].as_u64().unwrap();
    let candidate_port = candidate["port"].as_u64().unwrap() as u16;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", candidate_port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the candidate never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    agent.kill9();
    client.kill().unwrap();
    client.wait().unwrap();
    assert!(runs(pid, ticks), "the candidate went with the agent");

    let _agent = AgentProcess::start(&env);
    // Its stop_timeout is 5s; the rest is room for a shared machine.
    assert!(
        wait_gone(pid, ticks, Duration::from_secs(20)),
        "the candidate's `sh` still runs"
    );
    let left = wait_releases(&env.site(), Duration::from_secs(20), |running| {
        !running.contains(&v2)
    });
    assert!(
        !left.contains(&v2),
        "the candidate app still runs: {left:?}"
    );
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", candidate_port)).is_ok(),
        "port {candidate_port} is still held"
    );
    assert_eq!(env.status()["agent"]["live"]["release"], v1.as_str());
}

// Nothing capped the warm set: 7 quick deploys left 8 app processes running.
#[test]
fn warm_set_grew_without_bound() {
    let port = free_port();
    let env = agent_env(port, "rollback_window = \"1h\"");
    deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    let releases: Vec<String> = (2..=8)
        .map(|version| deploy(&env, &version.to_string()))
        .collect();
    // The live one and the two newest warm ones (max_warm's default); the rest are stopped at once.
    let newest: std::collections::BTreeSet<String> = releases[4..].iter().cloned().collect();
    let running = wait_releases(&env.site(), Duration::from_secs(30), |running| {
        *running == newest
    });
    assert_eq!(running, newest, "{} app releases run", running.len());
    let status = env.status();
    assert_eq!(status["agent"]["live"]["release"], releases[6].as_str());
    assert_eq!(
        status["agent"]["warm"].as_array().unwrap().len(),
        2,
        "{status}"
    );
    // What a successor would stop is what runs (each stop is saved once it is done).
    let recorded_releases = |state: &Value| -> std::collections::BTreeSet<String> {
        state["children"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|child| Some(child["release"].as_str()?.to_owned()))
            .collect()
    };
    let saved = wait_state(&env, Duration::from_secs(30), |state| {
        recorded_releases(state) == newest
    });
    assert_eq!(recorded_releases(&saved), newest, "{saved}");
    assert_eq!(releases_running(&env.site()), newest);
}
