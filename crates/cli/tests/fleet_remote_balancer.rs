//! A balancer on another machine (`balancer.host`): HAProxy's admin socket
//! is reached through that machine's ssh connection (a unix socket
//! forward, nothing listening on the network), and the stage deploys with
//! no failed request (issue 15).

mod util;

use std::time::Duration;
use util::stage_fixture::{StageFixture, StageOptions};

#[test]
fn haproxy_on_another_host_is_driven_through_its_ssh_connection() {
    let names = ["web1", "web2", "lb1"];
    let stage = StageFixture::start(
        &names,
        StageOptions {
            waves: "[1, 2]",
            watch: "1s",
            ..StageOptions::default()
        },
    );
    // lb1 is the balancer's machine, not a host of the stage.
    let path = stage.env.src().join("hoist.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "hosts = [\"web1\", \"web2\", \"lb1\"]",
            "hosts = [\"web1\", \"web2\"]",
        )
        .replace(
            "kind = \"haproxy\"\n",
            "kind = \"haproxy\"\nhost = \"lb1\"\n",
        );
    std::fs::write(&path, text).unwrap();
    let (_, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);
    let haproxy = stage.haproxy.as_ref().unwrap();
    for name in ["web1", "web2"] {
        haproxy.wait_status("shop", name, "UP");
    }
    let load = stage.load();
    assert!(load.wait_for_more(30, Duration::from_secs(60)));
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
    stage.assert_live(&["web1", "web2"], &v2);
}
