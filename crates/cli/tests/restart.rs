//! `hoist restart`: the live release started afresh, through the same
//! locked, journaled path as every other change.

mod util;

use util::agent_process::{agent_config, free_port, AgentProcess};
use util::{Env, HealthServer};

#[test]
fn restart_without_an_agent_runs_the_restart_command_and_checks_health() {
    let health = HealthServer::start(200);
    let marks = tempfile::tempdir().unwrap();
    let mark = marks.path().join("restarts");
    let env = Env::with_config(&format!(
        "{}restart = \"echo $HOIST_RELEASE >> {}\"\nhealth = \"{}\"\n",
        util::DEFAULT_CONFIG,
        mark.display(),
        health.url
    ));
    let v1 = env.deploy_version("1.0.0");
    let restarted = env.hoist().args(["restart", "--json"]).run_json();
    assert_eq!(restarted["release"], v1.as_str());
    let lines = std::fs::read_to_string(&mark).unwrap();
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        [v1.as_str(), v1.as_str()]
    );
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(
        (history[0]["op"].as_str(), history[0]["outcome"].as_str()),
        (Some("restart"), Some("ok"))
    );
    assert_eq!(env.live(), Some(v1));
}

#[test]
fn restart_with_an_agent_swaps_in_a_fresh_process() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    let v1 = env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    let before = env.status()["agent"]["live"]["pid"].as_u64().unwrap();
    env.hoist().args(["restart", "-q"]).run();
    let status = env.status();
    assert_eq!(status["agent"]["live"]["release"], v1.as_str());
    assert_ne!(
        status["agent"]["live"]["pid"].as_u64().unwrap(),
        before,
        "a fresh process serves"
    );
    assert!(status["pending"].is_null());
    // Nothing live: the restart says what to do.
    let fresh = Env::new();
    std::fs::create_dir_all(fresh.site()).unwrap();
    fresh
        .hoist()
        .args(["restart"])
        .code(1)
        .stderr_has("deploy")
        .run();
}
