//! `hoist data load|roll|revert --stage`, `hoist maint on|off --stage` and
//! `hoist prune --stage` over real sshd's (issue 15, item 7): one data
//! version under one id on every host, rolled together or not at all,
//! maintenance and prunes on every host, each under one fleet operation.

mod util;

use serde_json::Value;
use std::path::PathBuf;
use util::stage_fixture::{StageFixture, StageOptions};

fn stage(names: &[&str]) -> StageFixture {
    StageFixture::start(
        names,
        StageOptions {
            balancer: false,
            ..StageOptions::default()
        },
    )
}

/// A data set in the project: a directory with a nested file and a symlink.
fn data_set(stage: &StageFixture, name: &str, text: &str) -> PathBuf {
    let dir = stage.env.dir.path().join(name);
    std::fs::create_dir_all(dir.join("genes")).unwrap();
    std::fs::write(dir.join("release.txt"), format!("{text}\n")).unwrap();
    std::fs::write(
        dir.join("genes/index.tsv"),
        "id\tname\n1\tunc-22\n".repeat(500),
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.join("latest"));
    std::os::unix::fs::symlink("release.txt", dir.join("latest")).unwrap();
    dir
}

/// The host's `hoist data list --json`.
fn versions(stage: &StageFixture, host: &str) -> Vec<Value> {
    stage
        .on_host(host, &["data", "list"])
        .as_array()
        .unwrap()
        .clone()
}

/// The host's live data version, as its `hoist status` says.
fn live_data(stage: &StageFixture, host: &str) -> Option<String> {
    stage.on_host(host, &["status"])["data"]
        .as_str()
        .map(str::to_owned)
}

/// The ops of the host's ledger rows under fleet operation `op`.
fn rows_of(stage: &StageFixture, host: &str, op: &str) -> Vec<(String, String)> {
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

/// `hoist data load --stage production SRC --json`.
fn load(stage: &StageFixture, source: &PathBuf) -> Value {
    stage
        .hoist()
        .args(["data", "load", "--stage", "production", "--json"])
        .arg(source)
        .run_json()
}

#[test]
fn stage_data_load_gives_every_host_one_verified_id_and_a_second_load_sends_nothing() {
    let names = ["web1", "web2", "web3"];
    let stage = stage(&names);
    let source = data_set(&stage, "catalog", "WS290");
    // The digest a plain single-host load of the same source gets.
    let scratch = tempfile::tempdir().unwrap();
    let plain = stage
        .hoist()
        .args(["data", "load", "--json", "--root"])
        .arg(scratch.path())
        .arg(&source)
        .run_json();
    // web1 loaded it by hand already: the fleet takes its id (the oldest
    // of the ids hosts have for it) and sends it nothing; web2 has it under
    // another id and copies its own.
    let by_hand = stage.on_host("web1", &["data", "load", source.to_str().unwrap()]);
    stage.on_host("web2", &["data", "load", source.to_str().unwrap()]);
    let first = load(&stage, &source);
    assert_eq!(first["outcome"], "done", "{first}");
    let id = first["version"].as_str().unwrap();
    assert_eq!(id, by_hand["version"], "{first}");
    let op = first["fleet_op"].as_str().unwrap();
    for (host, run) in names.iter().zip(first["hosts"].as_array().unwrap()) {
        let (how, sent) = (
            &run["detail"]["how"],
            run["detail"]["bytes_sent"].as_u64().unwrap(),
        );
        match *host {
            "web1" => assert_eq!((how.as_str(), sent), (Some("had-it"), 0), "{run}"),
            "web2" => assert_eq!((how.as_str(), sent), (Some("copied"), 0), "{run}"),
            _ => assert!(how == "sent" && sent > 0, "{run}"),
        }
        let listed = versions(&stage, host);
        let ours: Vec<&Value> = listed.iter().filter(|v| v["id"] == id).collect();
        assert_eq!(ours.len(), 1, "{host}: {listed:?}");
        assert_eq!(ours[0]["digest"], plain["digest"], "{host}");
        let root = stage
            .fleet
            .host(host)
            .dir()
            .join("site/data/versions")
            .join(id);
        assert_eq!(
            std::fs::read_to_string(root.join("release.txt")).unwrap(),
            "WS290\n"
        );
        assert_eq!(
            std::fs::read_link(root.join("latest")).unwrap(),
            PathBuf::from("release.txt")
        );
        if *host != "web1" {
            assert_eq!(
                rows_of(&stage, host, op),
                [("data-load".into(), "ok".into())],
                "{host}"
            );
        }
        assert_eq!(live_data(&stage, host), None, "a load makes nothing live");
    }
    // The same version again: every host has it, nothing is sent or loaded.
    let second = load(&stage, &source);
    assert_eq!(second["version"], id, "{second}");
    for (host, run) in names.iter().zip(second["hosts"].as_array().unwrap()) {
        assert_eq!(run["detail"]["how"], "had-it", "{run}");
        assert_eq!(run["detail"]["bytes_sent"], 0, "{run}");
        // web2 keeps its own id beside the fleet's.
        let before = if *host == "web2" { 2 } else { 1 };
        assert_eq!(versions(&stage, host).len(), before, "{host}");
        let loads = stage
            .history(host)
            .into_iter()
            .filter(|row| row["op"] == "data-load")
            .count();
        assert_eq!(loads, before, "{host}: the second load loaded nothing");
    }
}

#[test]
fn stage_data_roll_and_revert_move_every_host_together() {
    let names = ["web1", "web2"];
    let stage = stage(&names);
    let v1 = load(&stage, &data_set(&stage, "one", "WS289"))["version"]
        .as_str()
        .unwrap()
        .to_owned();
    let rolled = stage
        .hoist()
        .args(["data", "roll", "--stage", "production", "--json"])
        .run_json();
    assert_eq!(rolled["version"], v1.as_str(), "{rolled}");
    let v2 = load(&stage, &data_set(&stage, "two", "WS290"))["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(v1, v2);
    let rolled = stage
        .hoist()
        .args([
            "data",
            "roll",
            "--stage",
            "production",
            "--json",
            "--reason",
            "WS290",
        ])
        .run_json();
    assert_eq!(
        (rolled["outcome"].as_str(), rolled["version"].as_str()),
        (Some("done"), Some(v2.as_str())),
        "{rolled}"
    );
    for host in names {
        assert_eq!(
            live_data(&stage, host).as_deref(),
            Some(v2.as_str()),
            "{host}"
        );
        let op = rolled["fleet_op"].as_str().unwrap();
        assert_eq!(
            rows_of(&stage, host, op),
            [("data-roll".into(), "ok".into())],
            "{host}"
        );
    }
    let reverted = stage
        .hoist()
        .args(["data", "revert", "--stage", "production", "--json"])
        .run_json();
    assert_eq!(reverted["version"], v1.as_str(), "{reverted}");
    for host in names {
        assert_eq!(
            live_data(&stage, host).as_deref(),
            Some(v1.as_str()),
            "{host}"
        );
        let op = reverted["fleet_op"].as_str().unwrap();
        assert_eq!(
            rows_of(&stage, host, op),
            [("data-revert".into(), "ok".into())],
            "{host}"
        );
    }
}

#[test]
fn stage_data_roll_refused_on_one_host_leaves_every_host_on_the_old_version() {
    let names = ["web1", "web2", "web3"];
    let stage = stage(&names);
    let v1 = load(&stage, &data_set(&stage, "one", "WS289"))["version"]
        .as_str()
        .unwrap()
        .to_owned();
    stage
        .hoist()
        .args(["data", "roll", "--stage", "production", "--json"])
        .run();
    let v2 = load(&stage, &data_set(&stage, "two", "WS290"))["version"]
        .as_str()
        .unwrap()
        .to_owned();
    // web2's copy of v2 changed on disk: its roll refuses it.
    let planted = stage
        .fleet
        .host("web2")
        .dir()
        .join("site/data/versions")
        .join(&v2)
        .join("release.txt");
    util::tamper(&planted);
    let output = stage
        .hoist()
        .args(["data", "roll", "--stage", "production", "--json"])
        .arg(&v2)
        .code(1)
        .run();
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["error"]["kind"], "fleet-partial", "{answer}");
    let op = answer["result"]["fleet_op"].as_str().unwrap();
    for (host, run) in names
        .iter()
        .zip(answer["result"]["hosts"].as_array().unwrap())
    {
        let expected = if *host == "web2" {
            "failed"
        } else {
            "put-back"
        };
        assert_eq!(run["outcome"], expected, "{run}");
        assert_eq!(
            live_data(&stage, host).as_deref(),
            Some(v1.as_str()),
            "{host}"
        );
        let rows = rows_of(&stage, host, op);
        if *host == "web2" {
            assert_eq!(rows, [("data-roll".into(), "failed".into())], "{host}");
        } else {
            // Rolled, then put back: both rows under the one fleet op.
            assert_eq!(rows.len(), 2, "{host}: {rows:?}");
            assert!(
                rows.iter()
                    .all(|(row, outcome)| row == "data-roll" && outcome == "ok"),
                "{host}: {rows:?}"
            );
        }
    }
}

#[test]
fn stage_maint_on_and_off_flip_every_host() {
    let names = ["web1", "web2"];
    let stage = stage(&names);
    let on = stage
        .hoist()
        .args(["maint", "on", "--stage", "production", "--json"])
        .args(["--message", "Rebuilding the gene index", "--until", "20m"])
        .run_json();
    assert_eq!(on["outcome"], "done", "{on}");
    let mut untils = Vec::new();
    for host in names {
        let flag = &stage.on_host(host, &["status"])["maintenance_flag"];
        assert_eq!(
            flag["message"], "Rebuilding the gene index",
            "{host}: {flag}"
        );
        untils.push(flag["until"].clone());
        let op = on["fleet_op"].as_str().unwrap();
        assert_eq!(
            rows_of(&stage, host, op),
            [("maint-on".into(), "ok".into())],
            "{host}"
        );
    }
    assert_eq!(untils[0], untils[1], "one `until` on every host");
    let off = stage
        .hoist()
        .args(["maint", "off", "--stage", "production", "--json"])
        .run_json();
    assert_eq!(off["outcome"], "done", "{off}");
    for host in names {
        assert!(
            stage.on_host(host, &["status"])["maintenance_flag"].is_null(),
            "{host}"
        );
        let op = off["fleet_op"].as_str().unwrap();
        assert_eq!(
            rows_of(&stage, host, op),
            [("maint-off".into(), "ok".into())],
            "{host}"
        );
    }
}

#[test]
fn stage_prune_prunes_every_host() {
    let names = ["web1", "web2"];
    let stage = stage(&names);
    let mut ids = Vec::new();
    for version in ["v1", "v2", "v3", "v4"] {
        let (id, artifact) = stage.build(version, false);
        stage
            .hoist()
            .args(["deploy", "--stage", "production", "--json"])
            .arg(&artifact)
            .run_json();
        ids.push(id);
    }
    let releases = |host: &str| -> Vec<String> {
        stage
            .on_host(host, &["releases"])
            .as_array()
            .unwrap()
            .iter()
            .map(|release| release["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for host in names {
        assert_eq!(releases(host).len(), 4, "{host}");
    }
    let pruned = stage
        .hoist()
        .args(["prune", "--stage", "production", "--keep", "2", "--json"])
        .run_json();
    assert_eq!(pruned["outcome"], "done", "{pruned}");
    let op = pruned["fleet_op"].as_str().unwrap();
    for (host, run) in names.iter().zip(pruned["hosts"].as_array().unwrap()) {
        let kept = releases(host);
        assert!(
            !kept.contains(&ids[0]) && !kept.contains(&ids[1]),
            "{host}: {kept:?}"
        );
        assert!(
            kept.contains(&ids[2]) && kept.contains(&ids[3]),
            "{host}: {kept:?}"
        );
        assert_eq!(
            run["detail"]["removed"].as_array().unwrap().len(),
            2,
            "{run}"
        );
        assert_eq!(
            rows_of(&stage, host, op),
            [("prune".into(), "ok".into())],
            "{host}"
        );
    }
}

#[test]
fn stage_maint_on_refused_on_one_host_turns_the_others_off_again() {
    let names = ["web1", "web2"];
    let stage = stage(&names);
    // web2 cannot write its flag file: a directory is in its place.
    let blocker = stage.fleet.host("web2").dir().join("site/maintenance");
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "").unwrap();
    let output = stage
        .hoist()
        .args(["maint", "on", "--stage", "production", "--json"])
        .code(1)
        .run();
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["error"]["kind"], "fleet-partial", "{answer}");
    let hosts = answer["result"]["hosts"].as_array().unwrap();
    assert_eq!(
        (&hosts[0]["outcome"], &hosts[1]["outcome"]),
        (&"put-back".into(), &"failed".into()),
        "{answer}"
    );
    let op = answer["result"]["fleet_op"].as_str().unwrap();
    assert!(stage.on_host("web1", &["status"])["maintenance_flag"].is_null());
    assert_eq!(
        rows_of(&stage, "web1", op),
        [
            ("maint-off".into(), "ok".into()),
            ("maint-on".into(), "ok".into())
        ],
        "web1: on, then off again, under one fleet op (newest first)"
    );
}
