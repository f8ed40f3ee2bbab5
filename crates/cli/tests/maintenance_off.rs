//! `hoist maint off` with maintenance from the flag file.

mod util;

use util::agent_process::{agent_config, free_port, AgentProcess};
use util::http::get;
use util::Env;

// `hoist maint off` said "maintenance is off" while the agent still
// answered 503 from the flag file until its next poll.
#[test]
fn maint_off_said_off_while_the_flag_file_still_served_503() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    std::fs::write(env.site().join("maintenance"), "Back at noon\n").unwrap();
    // Wait until the agent follows the flag file (bounded; status is the signal).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while env.status()["agent"]["maintenance_source"] != "flag-file" {
        assert!(
            std::time::Instant::now() < deadline,
            "the flag file was not noticed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(get(port, "/").0, 503);
    env.hoist()
        .args(["maint", "off"])
        .stderr_has("maintenance is off")
        .run();
    assert_eq!(get(port, "/").0, 200, "off when it said so");
    assert!(env.status()["agent"]["maintenance"].is_null());
}

// `maint`, `pause`/`resume` and `canary` changed what users get without a
// trace in the ledger: `hoist history` could not say who closed the site.
#[test]
fn traffic_rules_were_not_in_the_ledger() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    env.hoist().args(["maint", "on", "--path", "/admin/"]).run();
    env.hoist().args(["maint", "off"]).run();
    env.hoist().args(["pause", "--max", "5s"]).run();
    env.hoist().args(["resume"]).run();
    let history = env.hoist().args(["history", "--json"]).run_json();
    let ops: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["op"].as_str())
        .collect();
    for op in ["maint-on", "maint-off", "pause", "resume"] {
        assert!(ops.contains(&op), "no `{op}` in {ops:?}");
    }
}
