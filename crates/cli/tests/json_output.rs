//! `--json` on every command: results are a JSON object on stdout.

mod util;

use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

// `pause`, `resume`, `abort` and `maint off` printed nothing on stdout
// under `--json`, so a script reading it got no result at all.
#[test]
fn json_results_were_empty_for_one_line_commands() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    let paused = env
        .hoist()
        .args(["pause", "--max", "5s", "--json"])
        .run_json();
    assert_eq!(
        (paused["paused"].as_bool(), paused["max_ms"].as_u64()),
        (Some(true), Some(5000))
    );
    let resumed = env.hoist().args(["resume", "--json"]).run_json();
    assert_eq!(resumed["resumed"], true);
    let aborted = env.hoist().args(["abort", "--json"]).run_json();
    assert!(aborted["aborted"].is_null(), "{aborted}");
    let off = env.hoist().args(["maint", "off", "--json"]).run_json();
    assert!(
        off["maintenance"].is_null() && off["flag_file_removed"] == false,
        "{off}"
    );
    // A usage error is a JSON object too, with exit code 2.
    let usage = env
        .hoist()
        .args(["canary", "--percent", "abc", "--json"])
        .code(2)
        .run();
    let error: serde_json::Value = serde_json::from_slice(&usage.stdout).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("--percent"),
        "{error}"
    );
}
