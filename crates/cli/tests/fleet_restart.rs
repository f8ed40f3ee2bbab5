//! `hoist restart --stage`: every host's live release restarted in place
//! over real sshd's, host by host behind a real HAProxy, under load,
//! without a failed request; each host's ledger has its restart under
//! the fleet operation.

mod util;

use std::path::Path;
use std::time::{Duration, Instant};
use util::stage_fixture::{StageFixture, StageOptions};

/// The hypnotoad manager's pid, as its pid file says.
fn manager(pid_file: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// The stage's hosts.
const NAMES: [&str; 2] = ["web1", "web2"];

/// web1 and web2 behind HAProxy, in waves of one host then the rest, each
/// host watched for `watch`, with v1 deployed: the stage and v1's id.
fn two_hosts_on_v1(watch: &'static str) -> (StageFixture, String) {
    let stage = StageFixture::start(
        &NAMES,
        StageOptions {
            waves: "[1, \"100%\"]",
            watch,
            ..StageOptions::default()
        },
    );
    let (v1, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);
    (stage, v1)
}

/// Waits (bounded) until the pid file names another manager than `old`:
/// hypnotoad's new manager takes over the pid file once the old one left.
fn new_manager(pid_file: &Path, old: u32) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match manager(pid_file) {
            Some(pid) if pid != old => return Some(pid),
            _ if Instant::now() >= deadline => return None,
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn stage_restart_under_load_fails_no_request_and_restarts_every_host() {
    let (stage, v1) = two_hosts_on_v1(StageOptions::default().watch);
    let haproxy = stage.haproxy.as_ref().unwrap();
    let pid_file = |name: &str| stage.fleet.host(name).dir().join("run/hypnotoad.pid");
    let mut before = Vec::new();
    for name in NAMES {
        haproxy.wait_status("shop", name, "UP");
        before.push(manager(&pid_file(name)).expect("hypnotoad wrote its pid file"));
    }

    let load = stage.load();
    assert!(load.wait_for_more(50, Duration::from_secs(60)));
    let restarted = stage
        .hoist()
        .args([
            "restart",
            "--stage",
            "production",
            "--json",
            "--reason",
            "perl upgraded",
        ])
        .run_json();
    assert!(load.wait_for_more(50, Duration::from_secs(60)));
    let counts = load.finish();
    assert_eq!(counts.failed, 0, "{:?}", counts.problems);

    assert_eq!(restarted["outcome"], "restarted", "{restarted}");
    assert_eq!(restarted["release"], v1.as_str());
    assert_eq!(restarted["waves"], serde_json::json!([["web1"], ["web2"]]));
    let op = restarted["fleet_op"].as_str().unwrap();
    for (name, old) in NAMES.iter().zip(before) {
        let host = restarted["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|host| host["host"] == *name)
            .unwrap_or_else(|| panic!("`{name}` not in {restarted}"));
        assert_eq!(host["outcome"], "restarted", "{host}");
        assert!(
            new_manager(&pid_file(name), old).is_some(),
            "`{name}` still runs manager {old}"
        );
        assert_eq!(stage.live(name).as_deref(), Some(v1.as_str()));
        haproxy.wait_status("shop", name, "UP");
        let rows: Vec<_> = stage
            .history(name)
            .into_iter()
            .filter(|row| row["fleet_op"] == op)
            .collect();
        assert_eq!(rows.len(), 1, "{name}: {rows:?}");
        assert_eq!(
            (rows[0]["op"].as_str(), rows[0]["outcome"].as_str()),
            (Some("restart"), Some("ok")),
            "{name}: {rows:?}"
        );
    }
}

#[test]
fn stage_restart_stops_at_a_failed_host_and_rolls_nothing_back() {
    let (stage, v1) = two_hosts_on_v1("0s");
    let haproxy = stage.haproxy.as_ref().unwrap();
    // web2's runtime upgrade broke its restart command; its running app is untouched.
    let site_toml = stage.fleet.host("web2").dir().join("site/site.toml");
    let text = std::fs::read_to_string(&site_toml).unwrap();
    let restart = text
        .lines()
        .find(|line| line.starts_with("restart"))
        .unwrap();
    let broken = text.replace(restart, "restart = \"echo perl: bad interpreter; exit 1\"");
    std::fs::write(&site_toml, broken).unwrap();
    let old = manager(&stage.fleet.host("web2").dir().join("run/hypnotoad.pid")).unwrap();

    let failed = stage
        .hoist()
        .args(["restart", "--stage", "production", "--json"])
        .code(1)
        .run_json();
    assert_eq!(failed["error"]["kind"], "fleet-restart-stopped", "{failed}");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(message.contains("bad interpreter"), "{message}");
    assert!(message.contains("restarted: `web1`"), "{message}");
    assert!(message.contains("nothing to roll back"), "{message}");
    let outcome = |name: &str| {
        failed["result"]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|host| host["host"] == name)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(
        (outcome("web1"), outcome("web2")),
        ("restarted".into(), "failed".into())
    );
    // The failed host still serves its old process, back in rotation.
    assert_eq!(
        manager(&stage.fleet.host("web2").dir().join("run/hypnotoad.pid")),
        Some(old)
    );
    for name in NAMES {
        assert_eq!(stage.live(name).as_deref(), Some(v1.as_str()));
        haproxy.wait_status("shop", name, "UP");
    }
}

/// `name`'s row of a fleet restart that went well, once it is written.
fn restart_row(stage: &StageFixture, name: &str) -> Option<serde_json::Value> {
    stage
        .history(name)
        .into_iter()
        .find(|row| row["op"] == "restart" && row["outcome"] == "ok" && !row["fleet_op"].is_null())
}

/// A `hoist restart --stage` killed (-9) during wave 1's watch, web1 done
/// and web2 never started, read as `fleet restart ok` in `history --stage`.
#[test]
fn history_called_a_killed_stage_restart_ok() {
    let (stage, v1) = two_hosts_on_v1("60s");
    let mut restart = stage
        .hoist()
        .args(["restart", "--stage", "production", "--reason", "kill test"])
        .spawn_output();
    // web1's restart row is written once it restarted; then wave 1 watches.
    let deadline = Instant::now() + Duration::from_secs(120);
    let row = loop {
        if let Some(row) = restart_row(&stage, "web1") {
            break row;
        }
        assert!(Instant::now() < deadline, "web1 never restarted");
        std::thread::sleep(Duration::from_millis(100));
    };
    restart.kill().unwrap();
    restart.wait().unwrap();
    assert!(restart_row(&stage, "web2").is_none(), "web2 was restarted");
    let op = row["fleet_op"].as_str().unwrap();

    let history = stage
        .hoist()
        .args(["history", "--stage", "production", "--json"])
        .run_json();
    let entry = &history["entries"][0];
    assert_eq!(entry["fleet_op"], op, "{history}");
    assert_eq!(entry["op"], "restart", "{entry}");
    assert_eq!(entry["release"], v1.as_str(), "{entry}");
    assert_eq!(entry["outcome"], "incomplete", "{entry}");
    assert_eq!(entry["not_reached"], serde_json::json!(["web2"]), "{entry}");
    let human = stage
        .hoist()
        .args(["history", "--stage", "production"])
        .run();
    let text = String::from_utf8_lossy(&human.stdout);
    eprintln!("{text}");
    assert!(text.contains("restart  incomplete"), "{text}");
    assert!(text.contains("not reached: web2"), "{text}");
}

/// After a fleet operation died between marking web1 drained and draining
/// it, `status --stage` said "drained at the balancer ..., never put back"
/// while HAProxy had it UP, and named only a deploy or rollback as the way out.
#[test]
fn status_stage_called_a_host_up_at_haproxy_drained() {
    let (stage, _) = two_hosts_on_v1("0s");
    let haproxy = stage.haproxy.as_ref().unwrap();
    for name in NAMES {
        haproxy.wait_status("shop", name, "UP");
    }
    // What a kill -9 between the mark and the drain leaves behind.
    stage.on_host(
        "web1",
        &["fleet", "drained", "--mark", "fleet-20261201T000000Z-1"],
    );
    let status = |json: bool| {
        let mut command = stage.hoist();
        command = command.args(["status", "--stage", "production"]);
        if json {
            command = command.arg("--json");
        }
        command.run()
    };
    let text = String::from_utf8_lossy(&status(false).stdout).into_owned();
    eprintln!("{text}");
    assert!(
        text.contains("! web1: in rotation: the balancer reports it UP"),
        "{text}"
    );
    assert!(
        text.contains("`hoist restart --stage production`"),
        "{text}"
    );
    assert!(!text.contains("never put back"), "{text}");

    // Drained there too (a kill after the drain): said as HAProxy says it.
    haproxy.cmd("set server shop/web1 state drain");
    haproxy.wait_status("shop", "web1", "DRAIN");
    let json: serde_json::Value = serde_json::from_slice(&status(true).stdout).unwrap();
    let web1 = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|host| host["host"] == "web1")
        .unwrap();
    assert_eq!(web1["at_balancer"]["status"], "drain", "{web1}");
    assert_eq!(web1["drift"][0]["kind"], "drained", "{web1}");
    let text = String::from_utf8_lossy(&status(false).stdout).into_owned();
    assert!(
        text.contains("! web1: out of rotation: the balancer reports it DRAIN"),
        "{text}"
    );

    // The way out it names readmits web1 and clears the mark.
    stage
        .hoist()
        .args(["restart", "--stage", "production"])
        .run();
    haproxy.wait_status("shop", "web1", "UP");
    let json: serde_json::Value = serde_json::from_slice(&status(true).stdout).unwrap();
    assert_eq!(json["drifting"], serde_json::json!([]), "{json}");
}
