//! `hoist deploy --stage`: one artifact to every host of a stage over real
//! sshd's, in waves behind a real HAProxy, rolled back together on failure
//! (issue 15).

mod util;

use std::time::Duration;
use util::counted_load::{CountedLoad, Target};
use util::http::header;
use util::stage_fixture::{StageFixture, StageOptions};

fn any_version(status: u16, headers: &http::HeaderMap, body: &str, _: &str) -> Result<(), String> {
    let release = headers.get("x-hoist-release").is_some();
    if status == 200 && release && body.starts_with('v') {
        Ok(())
    } else {
        Err(format!("{status} {body:?}"))
    }
}

#[test]
fn five_host_deploy_through_haproxy_fails_no_request_and_shares_one_fleet_op() {
    let names = ["web1", "web2", "web3", "web4", "web5"];
    let stage = StageFixture::start(&names, StageOptions::default());
    let (v1, artifact) = stage.build("v1", false);
    let first = stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(&artifact)
        .run_json();
    assert_eq!(first["outcome"], "deployed", "{first}");
    let haproxy = stage.haproxy.as_ref().unwrap();
    for name in names {
        assert_eq!(stage.live(name).as_deref(), Some(v1.as_str()));
        haproxy.wait_status("shop", name, "UP");
    }
    let load = CountedLoad::start(&[Target {
        port: haproxy.frontend_addr().port(),
        method: "GET",
        path: "/",
        workers: 2,
        check: any_version,
    }]);
    assert!(load.wait_for_more(50, Duration::from_secs(60)));
    let (v2, artifact) = stage.build("v2", false);
    let second = stage
        .hoist()
        .args([
            "deploy",
            "--stage",
            "production",
            "--json",
            "--reason",
            "v2 everywhere",
        ])
        .arg(&artifact)
        .run_json();
    assert!(load.wait_for_more(50, Duration::from_secs(60)));
    let counts = load.finish();
    assert_eq!(counts.failed, 0, "{:?}", counts.problems);
    assert_eq!(second["outcome"], "deployed", "{second}");
    assert_eq!(second["waves"].as_array().unwrap().len(), 3, "{second}");
    let op = second["fleet_op"].as_str().unwrap();
    for name in names {
        assert_eq!(stage.live(name).as_deref(), Some(v2.as_str()), "{name}");
        let (_, headers, body) = util::http::get_at(stage.fleet.host(name).app_addr(), "/");
        assert_eq!(
            (header(&headers, "x-hoist-release"), body.as_str()),
            (Some(v2.as_str()), "v2\n")
        );
        // Every host's ledger has its stage and switch rows under one fleet op.
        let rows: Vec<_> = stage
            .history(name)
            .into_iter()
            .filter(|row| row["fleet_op"] == op)
            .map(|row| {
                (
                    row["op"].as_str().unwrap().to_owned(),
                    row["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(
            rows.contains(&("stage".into(), "ok".into())),
            "{name}: {rows:?}"
        );
        assert!(
            rows.contains(&("deploy".into(), "ok".into())),
            "{name}: {rows:?}"
        );
    }
}
