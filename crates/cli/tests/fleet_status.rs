//! `hoist status --stage`, `hoist status --stages` and `hoist history
//! --stage` over real sshd's (issue 15): every host asked in parallel,
//! drift after a host is changed by hand, an unreachable host as a row.

mod util;

use serde_json::Value;
use util::held_lock::HeldLock;
use util::stage_fixture::{StageFixture, StageOptions};

/// One wave, a short watch and no balancer: these tests are about reading
/// a stage, not switching it.
fn quick() -> StageOptions {
    StageOptions {
        balancer: false,
        waves: "[\"100%\"]",
        watch: "1s",
        ..StageOptions::default()
    }
}

/// `hoist deploy --stage STAGE ARTIFACT --json`, which must deploy.
fn deploy(stage: &StageFixture, name: &str, artifact: &std::path::Path) -> Value {
    let report = stage
        .hoist()
        .args(["deploy", "--stage", name, "--json"])
        .arg(artifact)
        .run_json();
    assert_eq!(report["outcome"], "deployed", "{report}");
    report
}

fn status(stage: &StageFixture) -> Value {
    stage
        .hoist()
        .args(["status", "--stage", "production", "--json"])
        .run_json()
}

fn host<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|host| host["host"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {status}"))
}

fn drift_kinds(status: &Value, name: &str) -> Vec<String> {
    host(status, name)["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|drift| drift["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// `hoist` run on the host itself, over ssh, as a person would by hand.
fn by_hand(stage: &StageFixture, name: &str, args: &str) {
    let command = format!(
        "{}/hoist --root {} {args}",
        stage.fleet.stage_bin().display(),
        stage.fleet.stage_root().display()
    );
    let output = stage.fleet.ssh(name, &command);
    assert!(
        output.status.success(),
        "{command}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn status_stage_reports_every_host_then_the_drift_made_by_hand() {
    let names = ["web1", "web2", "web3"];
    let stage = StageFixture::start(&names, quick());
    let (v1, artifact) = stage.build("v1", false);
    deploy(&stage, "production", &artifact);
    let (v2, artifact) = stage.build("v2", false);
    deploy(&stage, "production", &artifact);

    let all = status(&stage);
    // Not a timing test: the figure goes in the log for the record.
    eprintln!("status --stage, 3 hosts: {} ms", all["duration_ms"]);
    assert_eq!(all["release"], v2.as_str(), "{all}");
    assert_eq!(all["mixed"], false, "{all}");
    assert_eq!(all["drifting"], serde_json::json!([]), "{all}");
    for name in names {
        let row = host(&all, name);
        assert_eq!(row["reachable"], true, "{row}");
        assert_eq!(row["live"], v2.as_str(), "{row}");
        assert_eq!(row["previous"], v1.as_str(), "{row}");
        assert_eq!(row["live_version"], "v2", "{row}");
        assert_eq!(row["hoist"], all["hoist"], "{row}");
        assert!(row["drift"].as_array().unwrap().is_empty(), "{row}");
    }

    // Changed by hand: web2 rolled back on the host, web1's lock left held.
    by_hand(&stage, "web2", "rollback --reason by-hand");
    let lock = HeldLock::hold(&stage.fleet.host("web1").dir().join("site/deploy.lock"));
    let drifted = status(&stage);
    assert_eq!(drifted["release"], v2.as_str(), "{drifted}");
    assert_eq!(drifted["mixed"], true, "{drifted}");
    assert_eq!(drifted["drifting"], serde_json::json!(["web1", "web2"]));
    assert_eq!(drift_kinds(&drifted, "web1"), ["locked"]);
    assert_eq!(drift_kinds(&drifted, "web2"), ["release"]);
    assert_eq!(host(&drifted, "web2")["live"], v1.as_str());
    assert!(drift_kinds(&drifted, "web3").is_empty());
    let human = stage
        .hoist()
        .args(["status", "--stage", "production"])
        .run();
    let text = String::from_utf8_lossy(&human.stdout);
    eprintln!("{text}");
    assert!(
        text.contains(&format!("! web2: runs {v1}, the stage runs {v2}")),
        "{text}"
    );
    assert!(text.contains("! web1: deploy lock held"), "{text}");
    lock.release();

    // web3's hoist says it is another build (a wrapper around the real one).
    let bin = stage.fleet.host("web3").dir().join("bin/hoist");
    std::fs::remove_file(&bin).unwrap();
    let wrapper = format!(
        "#!/bin/sh\nif [ \"$1 $2\" = 'fleet version' ]; then\n  echo '{{\"version\":\"0.0.9\",\"build\":\"0ld\",\"arch\":\"x86_64\"}}'\nelse\n  exec {} \"$@\"\nfi\n",
        util::BIN
    );
    std::fs::write(&bin, wrapper).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let other = status(&stage);
    assert_eq!(drift_kinds(&other, "web3"), ["hoist"], "{other}");
    assert_eq!(host(&other, "web3")["hoist"]["version"], "0.0.9");
    assert_eq!(host(&other, "web3")["live"], v2.as_str());

    // An unreachable host is a row saying so, and the command still answers.
    stage.fleet.host("web3").stop_sshd();
    let partial = status(&stage);
    let web3 = host(&partial, "web3");
    assert_eq!(web3["reachable"], false, "{web3}");
    assert_eq!(web3["error"]["kind"], "ssh-failed", "{web3}");
    assert!(web3["live"].is_null(), "{web3}");
    assert_eq!(drift_kinds(&partial, "web3"), ["unreachable"]);
    // web1 (v2) and web2 (v1) tie: the newer build is the stage's.
    assert_eq!(partial["release"], v2.as_str(), "{partial}");
    assert_eq!(host(&partial, "web1")["live"], v2.as_str());
}

#[test]
fn history_stage_merges_a_fleet_deploy_into_one_entry_with_every_host() {
    let names = ["web1", "web2"];
    let stage = StageFixture::start(&names, quick());
    let (v1, artifact) = stage.build("v1", false);
    deploy(&stage, "production", &artifact);
    let (v2, artifact) = stage.build("v2", false);
    let report = stage
        .hoist()
        .args(["deploy", "--stage", "production", "--json"])
        .args(["--reason", "v2 everywhere"])
        .arg(&artifact)
        .run_json();
    let op = report["fleet_op"].as_str().unwrap();
    by_hand(&stage, "web1", "rollback --reason by-hand");

    let history = stage
        .hoist()
        .args(["history", "--stage", "production", "--json"])
        .run_json();
    let human = stage
        .hoist()
        .args(["history", "--stage", "production"])
        .run();
    eprintln!("{}", String::from_utf8_lossy(&human.stdout));
    let entries = history["entries"].as_array().unwrap();
    // Newest first: web1's own rollback, then the v2 fleet deploy.
    assert_eq!(entries[0]["kind"], "host", "{history}");
    assert_eq!(entries[0]["host"], "web1");
    assert_eq!(entries[0]["row"]["op"], "rollback");
    assert_eq!(entries[0]["row"]["to"], v1.as_str());
    let fleet: Vec<&Value> = entries.iter().filter(|e| e["fleet_op"] == op).collect();
    assert_eq!(fleet.len(), 1, "one entry for the fleet deploy: {history}");
    let entry = fleet[0];
    assert_eq!(entry["kind"], "fleet");
    assert_eq!(entry["op"], "deploy");
    assert_eq!(entry["release"], v2.as_str());
    assert_eq!(entry["outcome"], "ok");
    // Each host notes the fleet operation after the reason given.
    let reason = entry["reason"].as_str().unwrap();
    assert!(reason.starts_with("v2 everywhere"), "{reason}");
    let hosts = entry["hosts"].as_array().unwrap();
    let named: Vec<&str> = hosts.iter().map(|h| h["host"].as_str().unwrap()).collect();
    assert_eq!(named, names);
    for row in hosts {
        assert_eq!(
            (&row["op"], &row["outcome"]),
            (&"deploy".into(), &"ok".into())
        );
        assert_eq!(row["live"], v2.as_str());
        assert!(row["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["fleet_op"] == op));
    }
    // Two fleet deploys in all, and no fleet row left out as a host entry.
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["host", "fleet", "fleet"], "{history}");
    assert_eq!(history["unanswered"], serde_json::json!([]));

    stage.fleet.host("web2").stop_sshd();
    let partial = stage
        .hoist()
        .args(["history", "--stage", "production", "--json", "-n", "1"])
        .run_json();
    assert_eq!(partial["entries"].as_array().unwrap().len(), 1, "{partial}");
    assert_eq!(partial["unanswered"][0]["host"], "web2", "{partial}");
    assert_eq!(partial["unanswered"][0]["reachable"], false, "{partial}");
}

/// Commits the project as it is; returns the short revision a build names.
fn commit(stage: &StageFixture, message: &str) -> String {
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .current_dir(stage.env.src())
            .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "--allow-empty", "-m", message]);
    git(&["rev-parse", "--short=7", "HEAD"])
}

#[test]
fn status_stages_says_staging_runs_a_newer_release_than_production() {
    let stage = StageFixture::start(&["web1", "web2"], quick());
    // Split the fixture's one stage in two: web1 production, web2 staging.
    let path = stage.env.src().join("hoist.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let production = config.find("[stages.production]").unwrap();
    let staging = config[production..]
        .replace("[stages.production]", "[stages.staging]")
        .replace("hosts = [\"web1\", \"web2\"]", "hosts = [\"web2\"]");
    let config = config.replace("hosts = [\"web1\", \"web2\"]", "hosts = [\"web1\"]");
    stage
        .env
        .write("hoist.toml", &format!("{config}\n{staging}"));

    let one = commit(&stage, "one");
    let (v1, artifact) = stage.build("v1", false);
    deploy(&stage, "production", &artifact);
    deploy(&stage, "staging", &artifact);
    let same = stage
        .hoist()
        .args(["status", "--stages", "--json"])
        .run_json();
    assert_eq!(same["differences"], serde_json::json!([]), "{same}");
    let two = commit(&stage, "two");
    let (v2, artifact) = stage.build("v2", false);
    deploy(&stage, "staging", &artifact);

    let view = stage
        .hoist()
        .args(["status", "--stages", "--json"])
        .run_json();
    let stages = view["stages"].as_array().unwrap();
    let line = |name: &str| stages.iter().find(|s| s["stage"] == name).unwrap().clone();
    assert_eq!(line("production")["release"], v1.as_str(), "{view}");
    assert_eq!(line("staging")["release"], v2.as_str(), "{view}");
    assert_eq!(line("staging")["version"], "v2", "{view}");
    assert_eq!(line("staging")["revision"], two.as_str(), "{view}");
    assert_eq!(line("production")["revision"], one.as_str(), "{view}");
    let differences = view["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 1, "{view}");
    let difference = &differences[0];
    assert_eq!(difference["ahead"]["stage"], "staging");
    assert_eq!(difference["ahead"]["release"], v2.as_str());
    assert_eq!(difference["behind"]["stage"], "production");
    assert_eq!(difference["behind"]["version"], "v1");
    let human = stage.hoist().args(["status", "--stages"]).run();
    let text = String::from_utf8_lossy(&human.stdout);
    eprintln!("{text}");
    assert!(
        text.contains("`staging` is ahead of `production`: it runs"),
        "{text}"
    );
}
