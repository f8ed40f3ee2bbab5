//! `kill -9` at every journaled step, then `hoist recover`: the site always
//! serves one complete release, and recovery leaves a consistent state.

mod util;

use util::{Env, HealthServer};

const BEFORE_SWITCH: &[&str] = &[
    "begin", "copy", "verify", "space", "unpack", "shared", "checks", "test", "ready", "switch",
];
const AFTER_SWITCH: &[&str] = &["restart", "health", "record", "prune"];

fn env_with_everything(health: &HealthServer) -> Env {
    let config = format!(
        "{}test = {{ command = \"echo 1..1; echo ok 1\" }}\nrestart = \"true\"\nhealth = \"{}\"\n",
        util::DEFAULT_CONFIG,
        health.url
    );
    Env::with_config(&config)
}

/// The site serves a complete release: `current` resolves and verifies clean.
#[track_caller]
fn assert_serving(env: &Env, expected: &str) {
    assert_eq!(env.read_current("lib/app.txt"), "app code\n");
    let verified = env.hoist().args(["verify", "--json"]).run_json();
    assert_eq!(
        (verified["release"].as_str(), verified["clean"].as_bool()),
        (Some(expected), Some(true))
    );
}

#[test]
fn deploy_killed_at_every_step_recovers() {
    let health = HealthServer::start(200);
    for step in BEFORE_SWITCH.iter().chain(AFTER_SWITCH) {
        let env = env_with_everything(&health);
        let v1 = env.deploy_version("1.0.0");
        env.set_version("2.0.0");
        let (v2, artifact) = env.build();
        env.kill_at(&["deploy", artifact.to_str().unwrap()], step);

        // `switch` is journaled before the rename, so a kill there leaves v1 live.
        let switched = AFTER_SWITCH.contains(step);
        let live_after_kill = if switched { &v2 } else { &v1 };
        assert_serving(&env, live_after_kill);
        let pending = env.status()["pending"].clone();
        assert_eq!(pending["step"], *step, "status names the interrupted step");
        env.hoist()
            .arg("deploy")
            .arg(&artifact)
            .code(1)
            .stderr_has("hint: hoist recover")
            .run();

        let recovered = env.hoist().args(["recover", "--json"]).run_json();
        let expected_action = if switched { "finished" } else { "cleaned-up" };
        assert_eq!(
            recovered["action"], expected_action,
            "after a kill at `{step}`"
        );
        assert_eq!(recovered["live"], live_after_kill.as_str());
        assert_serving(&env, live_after_kill);
        assert!(env.status()["pending"].is_null());
        let leftovers: Vec<_> = std::fs::read_dir(env.site().join("releases"))
            .unwrap()
            .map(|item| item.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".partial") || name.ends_with(".deleting"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "leftovers after `{step}`: {leftovers:?}"
        );
        // Only the artifacts kept for releases on disk (for `hoist repair`).
        let on_disk: Vec<String> = env.releases().into_iter().map(|(id, _)| id).collect();
        let strays: Vec<String> = std::fs::read_dir(env.site().join("incoming"))
            .unwrap()
            .map(|item| item.unwrap().file_name().into_string().unwrap())
            .filter(|name| {
                !name
                    .strip_suffix(".tar.zst")
                    .is_some_and(|id| on_disk.iter().any(|kept| kept == id))
            })
            .collect();
        assert!(strays.is_empty(), "after `{step}`: {strays:?}");
        let history = env.hoist().args(["history", "--json"]).run_json();
        let deploys: Vec<&serde_json::Value> = history
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["op"] == "deploy")
            .collect();
        // Newest first: the refused deploy (recovery pending) started last.
        let outcomes: Vec<&str> = deploys
            .iter()
            .filter_map(|e| e["outcome"].as_str())
            .collect();
        let expected_outcome = if switched { "ok" } else { "interrupted" };
        assert_eq!(
            outcomes,
            ["refused", expected_outcome, "ok"],
            "after a kill at `{step}`: recorded once, with the refusal"
        );
        assert_eq!(deploys[1]["to"], v2.as_str(), "after a kill at `{step}`");

        // The site works normally afterwards.
        let v3 = env.deploy_version("3.0.0");
        assert_serving(&env, &v3);
    }
}

/// A host's first phase of a fleet deploy (`deploy --only-stage`) killed at
/// each of its steps: recovery removes the half-made release, the live one
/// never moved, and staging again works.
#[test]
fn stage_only_killed_at_every_step_is_cleaned_up() {
    let health = HealthServer::start(200);
    for step in &BEFORE_SWITCH[..BEFORE_SWITCH.len() - 1] {
        let env = env_with_everything(&health);
        let v1 = env.deploy_version("1.0.0");
        env.set_version("2.0.0");
        let (v2, artifact) = env.build();
        env.kill_at(
            &["deploy", artifact.to_str().unwrap(), "--only-stage"],
            step,
        );
        assert_serving(&env, &v1);
        assert_eq!(
            env.status()["pending"]["op"],
            "stage",
            "after a kill at `{step}`"
        );
        let recovered = env.hoist().args(["recover", "--json"]).run_json();
        assert_eq!(
            recovered["action"], "cleaned-up",
            "after a kill at `{step}`"
        );
        assert_serving(&env, &v1);
        assert!(
            !env.site().join("releases").join(&v2).exists(),
            "after `{step}`"
        );
        let staged = env
            .hoist()
            .arg("deploy")
            .arg(&artifact)
            .args(["--only-stage", "--json"])
            .run_json();
        assert_eq!(staged["outcome"], "staged", "after `{step}`");
        assert_serving(&env, &v1);
        assert!(
            env.site().join("releases").join(&v2).is_dir(),
            "after `{step}`"
        );
    }
}

#[test]
fn rollback_killed_at_every_step_recovers() {
    let health = HealthServer::start(200);
    for step in ["switch", "restart", "health", "record"] {
        let env = env_with_everything(&health);
        let v1 = env.deploy_version("1.0.0");
        let v2 = env.deploy_version("2.0.0");
        env.kill_at(&["rollback"], step);
        let switched = step != "switch";
        assert_serving(&env, if switched { &v1 } else { &v2 });
        let recovered = env.hoist().args(["recover", "--json"]).run_json();
        assert_eq!(
            recovered["action"],
            if switched { "finished" } else { "cleaned-up" }
        );
        let expected = if switched {
            (v1.as_str(), "live", "rolled-back")
        } else {
            (v2.as_str(), "previous", "live")
        };
        assert_eq!(env.live().as_deref(), Some(expected.0));
        let states: Vec<String> = env.releases().into_iter().map(|(_, state)| state).collect();
        assert_eq!(states, [expected.1, expected.2], "after a kill at `{step}`");
    }
}
