//! A fleet deploy that fails part-way puts every host it switched back,
//! with no failed request, and says so truthfully (issue 15).

mod util;

use std::time::{Duration, Instant};
use util::counted_load::{CountedLoad, Target};
use util::fleet_hosts::FleetOptions;
use util::stage_fixture::{StageFixture, StageOptions};

/// Deploys v1 to every host and waits until HAProxy sees them all up.
fn first_deploy(stage: &StageFixture, names: &[&str]) -> String {
    let (v1, artifact) = stage.build("v1", false);
    stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(&artifact)
        .run_json();
    if let Some(haproxy) = &stage.haproxy {
        for name in names {
            haproxy.wait_status("shop", name, "UP");
        }
    }
    v1
}

/// Waits until `host`'s own deploy journaled its restart step.
fn wait_for_restart(stage: &StageFixture, host: &str) {
    let journal = stage.fleet.host(host).dir().join("site/journal.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if text.contains("\"restart\"") && text.contains("\"deploy\"") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{host} never reached its restart"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn fleet_rows(stage: &StageFixture, host: &str, op: &str) -> Vec<(String, String)> {
    stage
        .history(host)
        .into_iter()
        .filter(|row| row["fleet_op"] == op)
        .map(|row| {
            (
                row["op"].as_str().unwrap().to_owned(),
                row["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_health_check_failing_in_wave_2_rolls_waves_1_and_2_back_with_no_failed_request() {
    let names = ["web1", "web2", "web3"];
    let options = StageOptions {
        waves: "[1, 2, 3]",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    let v1 = first_deploy(&stage, &names);
    // web2's own health check now fails (a host setting, as a broken
    // health endpoint or a firewall rule on one machine would).
    let site_toml = stage.fleet.host("web2").dir().join("site/site.toml");
    let text = std::fs::read_to_string(&site_toml).unwrap();
    let health = text
        .lines()
        .find(|line| line.starts_with("health ="))
        .unwrap();
    let broken = health.replace("/\"", "/no-such-page\"\nhealth_timeout = \"2s\"");
    let text = text.replace("health_timeout = \"20s\"\n", "");
    std::fs::write(&site_toml, text.replace(health, &broken)).unwrap();
    let load = stage.load();
    assert!(load.wait_for_more(30, Duration::from_secs(60)));
    let (_, artifact) = stage.build("v2", false);
    let answer = stage.deploy_refused(&artifact);
    assert!(load.wait_for_more(30, Duration::from_secs(60)));
    let counts = load.finish();
    assert_eq!(counts.failed, 0, "{:?}", counts.problems);
    assert_eq!(answer["error"]["kind"], "fleet-rolled-back", "{answer}");
    assert_eq!(answer["result"]["outcome"], "rolled-back", "{answer}");
    stage.assert_live(&names, &v1);
    let op = answer["result"]["fleet_op"].as_str().unwrap();
    assert!(fleet_rows(&stage, "web1", op).contains(&("deploy".into(), "ok".into())));
    assert!(fleet_rows(&stage, "web1", op).contains(&("rollback".into(), "ok".into())));
    let web2 = fleet_rows(&stage, "web2", op);
    assert!(
        web2.iter()
            .any(|(op, outcome)| op == "deploy" && outcome != "ok"),
        "{web2:?}"
    );
    // Wave 3 was never reached: staged, never switched.
    assert_eq!(
        fleet_rows(&stage, "web3", op),
        vec![("stage".into(), "ok".into())]
    );
    let hosts = answer["result"]["hosts"].as_array().unwrap();
    let outcome =
        |name: &str| hosts.iter().find(|host| host["host"] == name).unwrap()["outcome"].clone();
    assert_eq!(outcome("web1"), "rolled-back");
    assert_eq!(outcome("web3"), "not-reached");
}

#[test]
fn a_full_disk_on_one_host_while_staging_switches_nothing_anywhere() {
    let names = ["web1", "web2"];
    let options = StageOptions {
        balancer: false,
        fleet: FleetOptions::default().tmpfs_site("web2", 3 << 20),
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    let v1 = first_deploy(&stage, &names);
    // v2 carries 4 MiB that does not compress: it cannot fit on web2.
    let noise: String = (0..(4u64 << 20) / 16)
        .map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect();
    stage.env.write("blob.txt", &noise);
    let (_, artifact) = stage.build("v2", false);
    let answer = stage.deploy_refused(&artifact);
    assert_eq!(answer["error"]["kind"], "stage-failed", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`web2`") && message.contains("nothing was switched"),
        "{message}"
    );
    stage.assert_live(&names, &v1);
}

#[test]
fn an_ssh_connection_cut_mid_switch_counts_as_failed_and_is_rolled_back() {
    let names = ["web1", "web2"];
    let options = StageOptions {
        waves: "[2]",
        balancer: false,
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    let v1 = first_deploy(&stage, &names);
    // web2's restart takes a while, so the cut lands inside its switch.
    let site_toml = stage.fleet.host("web2").dir().join("site/site.toml");
    let text = std::fs::read_to_string(&site_toml).unwrap();
    std::fs::write(
        &site_toml,
        text.replace("restart = \"", "restart = \"sleep 3; "),
    )
    .unwrap();
    let (_, artifact) = stage.build("v2", false);
    let deploy = stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(&artifact)
        .spawn_output();
    // The journal says when web2 is restarting; then its connection goes.
    wait_for_restart(&stage, "web2");
    assert!(stage.fleet.host("web2").cut_connections() > 0);
    let output = deploy.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["error"]["kind"], "fleet-rolled-back", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("web2"),
        "{answer}"
    );
    // Both back on v1, and the stage's status says so.
    stage.assert_live(&names, &v1);
    let status = stage.on_host("web2", &["status"]);
    assert!(
        status["pending"].is_null() && status["locked_by"].is_null(),
        "{status}"
    );
}

#[test]
fn a_second_fleet_deploy_while_one_runs_is_refused_naming_the_holder() {
    let names = ["web1", "web2"];
    let options = StageOptions {
        balancer: false,
        watch: "8s",
        waves: "[1, 2]",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    first_deploy(&stage, &names);
    let (v2, artifact) = stage.build("v2", false);
    let first = stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(&artifact)
        .spawn_output();
    // Held once web1's fleet lock names its holder.
    let lock = stage.fleet.host("web1").dir().join("site/fleet.lock");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the first deploy never locked web1"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, other) = stage.build("v3", false);
    let second = stage.deploy_refused(&other);
    assert_eq!(second["error"]["kind"], "lock-held", "{second}");
    let message = second["error"]["message"].as_str().unwrap();
    assert!(message.contains("fleet operation `fleet-"), "{message}");
    let output = first.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stage.assert_live(&names, &v2);
}

#[test]
fn rollback_stage_takes_every_host_back_together() {
    let names = ["web1", "web2"];
    let options = StageOptions {
        watch: "0s",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    let v1 = first_deploy(&stage, &names);
    let (v2, artifact) = stage.build("v2", false);
    stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(&artifact)
        .run_json();
    let back = stage
        .hoist()
        .args([
            "rollback",
            "--stage",
            "production",
            "--json",
            "--reason",
            "bad css",
        ])
        .run_json();
    assert_eq!(back["outcome"], "rolled-back-to", "{back}");
    assert_eq!(back["release"], v1.as_str());
    stage.assert_live(&names, &v1);
    // And forward again by id.
    stage
        .hoist()
        .args(["rollback", "--stage", "production", "--to", &v2])
        .run();
    stage.assert_live(&names, &v2);
    // A release one host lacks is refused before anything moves.
    let refused = stage
        .hoist()
        .args([
            "rollback",
            "--stage",
            "production",
            "--json",
            "--to",
            "20200101T000000Z-0-nothing",
        ])
        .code(1)
        .run_json();
    assert_eq!(refused["error"]["kind"], "stage-drift", "{refused}");
}

/// A fleet deploy killed while a host was drained left that host out of
/// rotation for good: the next deploy skipped it (already live) and never
/// made it ready at the balancer.
#[test]
fn a_host_left_drained_by_a_killed_fleet_deploy_is_readmitted_by_the_next() {
    let names = ["web1", "web2"];
    let options = StageOptions {
        waves: "[1, 2]",
        watch: "0s",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    first_deploy(&stage, &names);
    let site_toml = stage.fleet.host("web1").dir().join("site/site.toml");
    let text = std::fs::read_to_string(&site_toml).unwrap();
    std::fs::write(
        &site_toml,
        text.replace("restart = \"", "restart = \"sleep 2; "),
    )
    .unwrap();
    let (v2, artifact) = stage.build("v2", false);
    let mut deploy = stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(&artifact)
        .spawn_output();
    wait_for_restart(&stage, "web1");
    deploy.kill().unwrap();
    deploy.wait().unwrap();
    // web1's own hoist finishes its switch; it stays drained.
    let deadline = Instant::now() + Duration::from_secs(120);
    while stage.live("web1").as_deref() != Some(v2.as_str())
        || !stage.on_host("web1", &["status"])["locked_by"].is_null()
    {
        assert!(Instant::now() < deadline, "web1 never finished its switch");
        std::thread::sleep(Duration::from_millis(50));
    }
    let haproxy = stage.haproxy.as_ref().unwrap();
    assert_eq!(haproxy.stat("shop", "web1")["status"], "DRAIN");
    // Its history names the host it never got to (web1 switched, web2 staged).
    let history = stage
        .hoist()
        .args(["history", "--stage", "production", "--json"])
        .run_json();
    let killed = &history["entries"][0];
    assert_eq!(killed["op"], "deploy", "{history}");
    assert_eq!(killed["outcome"], "incomplete", "{killed}");
    assert_eq!(
        killed["not_reached"],
        serde_json::json!(["web2"]),
        "{killed}"
    );
    let status = stage.on_host("web1", &["status"]);
    assert!(
        status["fleet_drained"]
            .as_str()
            .unwrap()
            .starts_with("fleet-"),
        "{status}"
    );
    stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .arg(&artifact)
        .run_json();
    haproxy.wait_status("shop", "web1", "UP");
    assert!(stage.on_host("web1", &["status"])["fleet_drained"].is_null());
    stage.assert_live(&names, &v2);
}

/// An app of the given version whose `/` answers `status` (its `/health`
/// always 200), for the watch's error rate.
fn app_answering(version: &str, status: u16) -> String {
    util::fleet_app::app_pl(version, false).replace(
        "  $c->render(text => ",
        // HAProxy's own check (HTTP/1.0) still passes: a release that fails
        // its users, not its health checks, which only the error rate shows.
        &format!("  return $c->render(text => \"{version} broken\\n\", status => {status}) if {status} != 200 && $c->req->version ne '1.0';\n  $c->render(text => "),
    ) .replace(
        "app->start;",
        "get '/health' => sub ($c) { $c->render(text => \"ok\\n\") };\napp->start;",
    )
}

#[test]
fn an_error_rate_over_the_limit_during_the_watch_rolls_the_wave_back() {
    let names = ["web1", "web2"];
    let options = StageOptions {
        waves: "[1, 2]",
        watch: "6s",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    for name in names {
        let site_toml = stage.fleet.host(name).dir().join("site/site.toml");
        let text = std::fs::read_to_string(&site_toml).unwrap();
        let health = text
            .lines()
            .find(|line| line.starts_with("health ="))
            .unwrap();
        let fixed = health.replace("/\"", "/health\"");
        std::fs::write(&site_toml, text.replace(health, &fixed)).unwrap();
    }
    stage.env.set_version("v1");
    stage.env.write("app.pl", &app_answering("v1", 200));
    let (v1, artifact) = stage.env.build();
    stage.deploy(&artifact);
    let haproxy = stage.haproxy.as_ref().unwrap();
    for name in names {
        haproxy.wait_status("shop", name, "UP");
    }
    let load = CountedLoad::start(&[Target {
        port: haproxy.frontend_addr().port(),
        method: "GET",
        path: "/",
        workers: 2,
        check: |status, _, _, _| {
            // This test counts what the balancer saw; any answer is fine here.
            if status == 200 || status == 500 {
                Ok(())
            } else {
                Err(format!("{status}"))
            }
        },
    }]);
    assert!(load.wait_for_more(30, Duration::from_secs(60)));
    stage.env.set_version("v2");
    stage.env.write("app.pl", &app_answering("v2", 500));
    let (_, artifact) = stage.env.build();
    let answer = stage.deploy_refused(&artifact);
    load.finish();
    assert_eq!(answer["error"]["kind"], "fleet-rolled-back", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("error rate") && message.contains("max_error_rate"),
        "{message}"
    );
    stage.assert_live(&names, &v1);
}

/// A first fleet deploy whose host stayed DOWN at the balancer printed
/// `ready: back in rotation`, then `not-rolled-back (live -)` and "no host
/// had stayed switched", while that host ran the new release.
#[test]
fn a_first_deploy_down_at_the_balancer_said_no_host_had_stayed_switched() {
    let names = ["web1", "web2"];
    let options = StageOptions {
        watch: "0s",
        ..StageOptions::default()
    };
    let stage = StageFixture::start(&names, options);
    let haproxy = stage.haproxy.as_ref().unwrap();
    // HAProxy checks web1 where nothing answers: its own health check
    // passes, the balancer's never does.
    let answer = haproxy.cmd("set server shop/web1 check-port 1");
    assert!(answer.trim().is_empty(), "{answer}");
    let (v1, artifact) = stage.build("v1", false);
    let output = stage
        .hoist()
        .args(["deploy", "--stage", "production"])
        .arg(&artifact)
        .code(1)
        .run();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    eprintln!("{stdout}{stderr}");
    assert!(!stderr.contains("back in rotation"), "{stderr}");
    assert!(
        stderr.contains(&format!("`web1` stays switched to `{v1}`")),
        "{stderr}"
    );
    assert!(!stderr.contains("no host had stayed switched"), "{stderr}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no `{name}` in {stdout}"))
            .to_owned()
    };
    assert!(
        line("web1").contains(&format!("failed (live {v1}")),
        "{stdout}"
    );
    assert!(line("web1").contains("DOWN at the balancer"), "{stdout}");
    assert!(line("web1").contains("no release before"), "{stdout}");
    assert!(line("web2").contains("not-reached (live -"), "{stdout}");
    assert!(line("outcome").contains("failed"), "{stdout}");
    assert_eq!(stage.live("web1").as_deref(), Some(v1.as_str()));
    assert_eq!(stage.live("web2"), None);
}
