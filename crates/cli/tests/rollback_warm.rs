//! A rollback to a release the agent keeps warm, through the real binary
//! and a real agent: its progress says what happens (a route swap).

mod util;

use util::agent_process::{agent_config_with, free_port, AgentProcess};
use util::Env;

#[test]
fn rollback_to_a_warm_release_said_it_was_starting_it() {
    // The rollback printed "starting `X`, switching traffic once it is
    // healthy" for a release that ran warm and got the traffic at once.
    let port = free_port();
    let env = Env::with_config(&agent_config_with(port, "rollback_window = \"10m\"\n", ""));
    let v1 = env.deploy_version("1");
    let _agent = AgentProcess::start(&env);
    env.deploy_version("2");
    let status = env.status();
    assert_eq!(
        status["agent"]["warm"][0]["release"],
        v1.as_str(),
        "{status}"
    );

    let rolled = env.hoist().arg("rollback").run();
    let said = String::from_utf8_lossy(&rolled.stderr).into_owned();
    assert!(
        said.contains(&format!("switching traffic to `{v1}`, which runs warm"))
            && !said.contains("once it is healthy"),
        "{said}"
    );
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
}
