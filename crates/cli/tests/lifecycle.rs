//! The whole file-level lifecycle through the real binary.

mod util;

use util::{Env, HealthServer};

fn states(env: &Env) -> Vec<String> {
    env.releases().into_iter().map(|(_, state)| state).collect()
}

#[test]
fn build_deploy_deploy_rollback_rollback_to_prune() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    let status = env.status();
    assert_eq!(status["live"], v1.as_str());
    assert!(status["previous"].is_null());
    assert!(status["deployed_by"].is_string() && status["deployed_at"].is_string());
    assert!(status["pending"].is_null());
    assert_eq!(env.releases(), [(v1.clone(), "live".to_owned())]);
    assert_eq!(env.read_current("index.html"), "<h1>shop 1.0.0</h1>\n");

    let v2 = env.deploy_version("2.0.0");
    assert_eq!(
        (
            env.status()["live"].as_str(),
            env.status()["previous"].as_str()
        ),
        (Some(v2.as_str()), Some(v1.as_str()))
    );
    assert_eq!(states(&env), ["previous", "live"]);
    assert_eq!(env.read_current("index.html"), "<h1>shop 2.0.0</h1>\n");

    env.hoist()
        .args(["rollback", "--reason", "broken css"])
        .run();
    let status = env.status();
    assert_eq!(status["live"], v1.as_str());
    assert!(
        status["previous"].is_null(),
        "a rolled-back release is not a rollback target: {status}"
    );
    assert_eq!(states(&env), ["live", "rolled-back"]);
    assert_eq!(env.read_current("index.html"), "<h1>shop 1.0.0</h1>\n");

    env.hoist().args(["rollback", "--to", &v2]).run();
    assert_eq!(env.status()["live"], v2.as_str());
    assert_eq!(env.status()["previous"], v1.as_str());
    assert_eq!(states(&env), ["previous", "live"]);

    let v3 = env.deploy_version("3.0.0");
    let v4 = env.deploy_version("4.0.0");
    let v5 = env.deploy_version("5.0.0");
    // keep_releases = 3: v1 and v2 pruned automatically after v5's deploy.
    let ids: Vec<String> = env.releases().into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, [v3.clone(), v4.clone(), v5.clone()]);
    let pruned = env
        .hoist()
        .args(["prune", "--keep", "1", "--json"])
        .run_json();
    // live and previous survive even --keep 1.
    assert_eq!(pruned["removed"], serde_json::json!([v3]));
    assert_eq!(
        env.releases(),
        [
            (v4.clone(), "previous".to_owned()),
            (v5.clone(), "live".to_owned())
        ]
    );

    let history = env.hoist().args(["history", "--json"]).run_json();
    let ops: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["op"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        ["prune", "deploy", "deploy", "deploy", "rollback", "rollback", "deploy", "deploy"]
    );
    let rollback = &history[5];
    assert_eq!(
        (rollback["reason"].as_str(), rollback["outcome"].as_str()),
        (Some("broken css"), Some("ok"))
    );
    assert_eq!(
        (rollback["from"].as_str(), rollback["to"].as_str()),
        (Some(v2.as_str()), Some(v1.as_str()))
    );
    assert!(
        rollback["user"].is_string()
            && rollback["host"].is_string()
            && rollback["duration_ms"].is_u64()
    );
}

#[test]
fn deploying_the_live_release_changes_nothing() {
    let env = Env::new();
    let (id, artifact) = env.build();
    env.hoist().arg("deploy").arg(&artifact).run();
    let report = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .run_json();
    assert_eq!(report["outcome"], "already-live");
    assert_eq!(env.releases(), [(id.clone(), "live".to_owned())]);
    // Recorded as what it was: nothing to do, from and to the live release.
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert_eq!(
        (
            &history[0]["outcome"],
            &history[0]["from"],
            &history[0]["to"]
        ),
        (&"noop".into(), &id.as_str().into(), &id.as_str().into()),
        "{history}"
    );
}

#[test]
fn two_builds_of_an_unchanged_tree_share_a_content_digest() {
    let env = Env::new();
    let first = env.hoist().args(["build", "--json"]).run_json();
    let second = env.hoist().args(["build", "--json"]).run_json();
    assert_eq!(first["digest"], second["digest"]);
    assert_eq!(first["files"], 3);
    env.write("index.html", "changed");
    let third = env.hoist().args(["build", "--json"]).run_json();
    assert_ne!(first["digest"], third["digest"]);
    for key in ["release", "artifact", "files", "bytes", "digest"] {
        assert!(!first[key].is_null(), "{key} missing from {first}");
    }
}

#[test]
fn second_deploy_hard_links_unchanged_files() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.set_version("2.0.0");
    env.write("index.html", "new");
    let (_, artifact) = env.build();
    let report = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(artifact)
        .run_json();
    // hoist.toml and index.html changed; lib/app.txt is linked.
    assert_eq!(
        (
            report["files_written"].as_u64(),
            report["files_linked"].as_u64()
        ),
        (Some(2), Some(1))
    );
}

#[test]
fn verify_lists_changed_missing_and_extra_files() {
    let env = Env::new();
    let id = env.deploy_version("1.0.0");
    env.hoist().arg("verify").run();
    let release = env.site().join("releases").join(&id);
    let make_writable = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    make_writable(&release);
    make_writable(&release.join("lib"));
    std::fs::remove_file(release.join("index.html")).unwrap();
    std::fs::write(release.join("extra.txt"), "x").unwrap();
    std::fs::remove_file(release.join("lib/app.txt")).unwrap();
    std::fs::write(release.join("lib/app.txt"), "tampered\n").unwrap();
    let output = env.hoist().args(["verify", "--json"]).code(1).run();
    let drift: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(drift["clean"], false);
    assert_eq!(drift["missing"], serde_json::json!(["index.html"]));
    assert_eq!(drift["extra"], serde_json::json!(["extra.txt"]));
    assert_eq!(drift["changed"], serde_json::json!(["lib/app.txt"]));
}

#[test]
fn failed_health_check_switches_back_and_marks_the_release_failed() {
    let healthy = HealthServer::start(200);
    let sick = HealthServer::start(500);
    let config = |url: &str| {
        format!("{}restart = \"echo restarted >> ../../shared/log/restarts\"\nhealth = \"{url}\"\nhealth_timeout = \"1s\"\n", util::DEFAULT_CONFIG)
    };
    let env = Env::with_config(&config(&healthy.url));
    let v1 = env.deploy_version("1.0.0");
    std::fs::write(env.src().join("hoist.toml"), config(&sick.url)).unwrap();
    // The health URL is a host setting: the site keeps its own (`site.toml`).
    env.hoist().args(["init", "--site", "--force"]).run();
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(artifact)
        .code(1)
        .stderr_has("answered 500")
        .stderr_has(&format!("switched back to `{v1}`"))
        .run();
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
    assert_eq!(
        env.releases(),
        [
            (v1.clone(), "live".to_owned()),
            (v2.clone(), "failed".to_owned())
        ]
    );
    let restarts = std::fs::read_to_string(env.site().join("shared/log/restarts")).unwrap();
    assert_eq!(restarts.lines().count(), 3, "v1, v2, then v1 again");
    // A failed release is never a rollback target.
    env.hoist()
        .args(["rollback", "--to", &v2])
        .code(1)
        .stderr_has("failed")
        .run();
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(
        (&history[0]["op"], &history[0]["outcome"], &history[0]["to"]),
        (&"rollback".into(), &"refused".into(), &v2.as_str().into())
    );
    assert_eq!(history[1]["outcome"], "rolled-back");
    assert!(history[1]["detail"].as_str().unwrap().contains("500"));
}

#[test]
fn failing_restart_switches_back() {
    let env = Env::with_config(&format!(
        "{}restart = \"test ! -f broken\"\n",
        util::DEFAULT_CONFIG
    ));
    let v1 = env.deploy_version("1.0.0");
    env.write("broken", "");
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(artifact)
        .code(1)
        .stderr_has("restart `test ! -f broken` failed")
        .run();
    assert_eq!(env.live(), Some(v1));
}

#[test]
fn test_gate_refuses_too_few_tests() {
    let config = format!(
        "{}test = {{ command = \"sh t.sh\", min_tests = 3 }}\n",
        util::DEFAULT_CONFIG
    );
    let env = Env::with_config(&config);
    env.write("t.sh", "echo 1..3; echo ok 1; echo ok 2; echo ok 3\n");
    let v1 = env.deploy_version("1.0.0");
    let count = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(count[0]["outcome"], "ok");

    env.write("t.sh", "echo 1..2; echo ok 1; echo ok 2\n");
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(artifact)
        .code(1)
        .stderr_has("2 tests, fewer than `min_tests` = 3")
        .run();
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));

    // A count above min_tests but below the last deploy's is refused too.
    std::fs::write(
        env.src().join("hoist.toml"),
        config.replace("min_tests = 3", "min_tests = 1"),
    )
    .unwrap();
    env.set_version("3.0.0");
    let (_, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(artifact)
        .code(1)
        .stderr_has("fewer than the 3 counted at the last deploy")
        .run();
    assert_eq!(env.live(), Some(v1));
    assert!(
        std::fs::read_dir(env.site().join("releases"))
            .unwrap()
            .count()
            == 1,
        "no partial left behind"
    );
}

#[test]
fn live_lock_refuses_and_stale_lock_is_taken_over() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    // A live holder: a child process keeps an flock on the lock file.
    let lock_path = env.site().join("deploy.lock");
    let holder = serde_json::json!({"user": "alice", "host": "web1", "pid": 4242, "command": "deploy x", "since": "2026-11-22T10:00:00Z"});
    std::fs::write(&lock_path, holder.to_string()).unwrap();
    let flock = util::held_lock::HeldLock::hold(&lock_path);
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("locked by `alice` on `web1` (pid 4242")
        .run();
    assert_eq!(env.status()["locked_by"]["user"], "alice");
    flock.release();
    // The holder is gone but its record remains: stale, taken over with a warning.
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .stderr_has("took over a stale lock left by `alice`")
        .run();
    std::fs::write(&lock_path, holder.to_string()).unwrap();
    env.hoist()
        .args(["unlock", "--reason", "alice's laptop died"])
        .stderr_has("cleared a lock left by `alice`")
        .run();
    let history = env.hoist().args(["history", "--json"]).run_json();
    assert_eq!(
        (history[0]["op"].as_str(), history[0]["reason"].as_str()),
        (Some("unlock"), Some("alice's laptop died"))
    );
}

#[test]
fn init_writes_a_template_that_builds() {
    let dir = tempfile::tempdir().unwrap();
    util::Cmd::new(dir.path()).arg("init").run();
    util::Cmd::new(dir.path())
        .arg("init")
        .code(1)
        .stderr_has("already exists")
        .run();
    let built = util::Cmd::new(dir.path())
        .args(["build", "--json"])
        .run_json();
    assert!(
        built["release"].as_str().unwrap().contains("-0-"),
        "version defaults to 0: {built}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    util::Cmd::new(dir.path())
        .arg("deploy-everything")
        .code(2)
        .run();
    util::Cmd::new(dir.path())
        .args(["unlock"])
        .code(2)
        .stderr_has("--reason")
        .run();
}

#[test]
fn demo_deploys_and_rolls_back_under_traffic_with_no_failures() {
    let dir = tempfile::tempdir().unwrap();
    let summary = util::Cmd::new(dir.path())
        .args(["demo", "--json"])
        .run_json();
    assert_eq!(summary["failed_requests"], 0, "{summary}");
    assert!(summary["requests"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["releases"].as_array().unwrap().len(), 2);
    assert_eq!(
        summary["data_versions"].as_array().unwrap().len(),
        2,
        "{summary}"
    );
    // The agent's `/metrics` counted the traffic, and its status page named
    // the live release (the first, after the rollback).
    assert!(summary["metrics_2xx"].as_u64().unwrap() > 0, "{summary}");
    assert!(summary["metrics_url"]
        .as_str()
        .unwrap()
        .ends_with("/metrics"));
    assert_eq!(
        summary["status_page_live"], summary["releases"][0],
        "{summary}"
    );
}
