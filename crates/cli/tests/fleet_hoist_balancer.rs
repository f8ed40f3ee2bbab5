//! A hoist agent as a stage's balancer (`kind = "hoist"`): each host is
//! drained at it (`hoist drain URL`, which returns once the backend is
//! empty), switched, and put back, with no failed request (issue 15).

mod util;

use std::time::Duration;
use util::agent_process::{free_port, AgentProcess};
use util::stage_fixture::{load_on, StageFixture, StageOptions};
use util::Env;

#[test]
fn a_stage_behind_a_hoist_agent_deploys_with_no_failed_request() {
    let names = ["web1", "web2"];
    let stage = StageFixture::start(
        &names,
        StageOptions {
            balancer: false,
            waves: "[1, 2]",
            watch: "1s",
            ..StageOptions::default()
        },
    );
    let (v1, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);
    // The balancer: an agent whose static backends are the hosts' apps.
    let port = free_port();
    let urls: Vec<String> = names
        .iter()
        .map(|name| format!("http://{}", stage.fleet.host(name).app_addr()))
        .collect();
    let mut config = format!(
        "[app]\nname = \"lb\"\n[deploy]\nroot = \"../site\"\n[proxy]\nlisten = \"127.0.0.1:{port}\"\n"
    );
    for url in &urls {
        config.push_str(&format!(
            "[[proxy.backend]]\nurl = \"{url}\"\nhealth_path = \"/\"\n"
        ));
    }
    let lb = Env::with_config(&config);
    std::fs::create_dir_all(lb.site().join("releases")).unwrap();
    let _agent = AgentProcess::start(&lb);
    let servers = names
        .iter()
        .zip(&urls)
        .map(|(name, url)| format!("\"{name}\" = \"{url}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let path = stage.env.src().join("hoist.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let balancer = format!(
        "[stages.production.balancer]\nkind = \"hoist\"\nroot = \"{}\"\nservers = {{ {servers} }}\n",
        lb.site().display()
    );
    std::fs::write(&path, text + &balancer).unwrap();
    let load = load_on(port);
    if !load.wait_for_more(30, Duration::from_secs(20)) {
        let counts = load.finish();
        panic!(
            "no traffic through the agent: {:?} {:?}",
            counts.ok, counts.problems
        );
    }
    let (v2, artifact) = stage.build("v2", false);
    let deployed = stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(&artifact)
        .run_json();
    assert!(load.wait_for_more(30, Duration::from_secs(60)));
    let counts = load.finish();
    assert_eq!(counts.failed, 0, "{:?}", counts.problems);
    assert_eq!(deployed["outcome"], "deployed", "{deployed}");
    stage.assert_live(&names, &v2);
    // Both backends are back in rotation at the agent.
    let status = lb.status();
    for backend in status["agent"]["backends"].as_array().unwrap() {
        assert_eq!(backend["draining"], false, "{status}");
    }
    assert_ne!(v1, v2);
}
