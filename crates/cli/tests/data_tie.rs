//! Code tied to data, through the real binary: a release that declares the
//! data it needs (`[data] requires`, `requires_check`) is refused onto
//! other data; `hoist rollback` names the data its target ran on and
//! `--with-data` goes back to it; a fresh site loads data before its
//! first deploy.

mod util;

use std::path::Path;
use util::{Env, DEFAULT_CONFIG};

/// `DEFAULT_CONFIG` with `[data]` lines added.
fn config_with_data(data: &str) -> String {
    format!("{DEFAULT_CONFIG}[data]\n{data}\n")
}

/// Writes `version.txt` = `text` into a fresh dir and loads it with label `text`.
fn load(env: &Env, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("version.txt"), format!("{text}\n")).unwrap();
    let json = env
        .hoist()
        .args(["data", "load", "--json", "--label", text])
        .arg(dir.path())
        .run_json();
    json["version"].as_str().unwrap().to_owned()
}

/// The version `data/current` names.
fn live_data(site: &Path) -> Option<String> {
    let target = std::fs::read_link(site.join("data/current")).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// Builds `version` with `config` as its hoist.toml; returns (id, artifact).
fn build(env: &Env, version: &str, config: &str) -> (String, std::path::PathBuf) {
    env.write("hoist.toml", config);
    env.set_version(version);
    env.build()
}

#[test]
fn release_goes_live_on_older_data() {
    // A release that needed data version N went live while N-1 was live.
    let env = Env::new();
    env.deploy_version("1.0");
    let v1 = load(&env, "v1");
    env.hoist().args(["data", "roll", "-q"]).run();

    let needs_v2 = config_with_data("requires = \"v2\"");
    let (id, artifact) = build(&env, "2.0", &needs_v2);
    // Nothing labelled v2 is loaded: the way out is to load it.
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has(&format!("release `{id}` requires data `v2`"))
        .stderr_has(&format!("the live data is `{v1}`"))
        .stderr_has("hoist data load SRC --label v2")
        .run();
    assert_ne!(env.live().as_deref(), Some(id.as_str()));

    // Loaded but not live: the way out is to roll it.
    let v2 = load(&env, "v2");
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has(&format!("hoist data roll {v2}"))
        .run();
    assert_ne!(env.live().as_deref(), Some(id.as_str()));
    assert_eq!(live_data(&env.site()).as_deref(), Some(v1.as_str()));

    env.hoist().args(["data", "roll", "-q", "v2"]).run();
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    assert_eq!(env.live().as_deref(), Some(id.as_str()));
    let history = env.hoist().args(["history", "--json"]).run_json();
    let refused = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["op"] == "deploy" && event["outcome"] == "refused")
        .count();
    assert_eq!(refused, 2, "{history}");
}

#[test]
fn a_data_check_refuses_data_the_release_cannot_read() {
    let env = Env::new();
    env.deploy_version("1.0");
    load(&env, "v1");
    env.hoist().args(["data", "roll", "-q"]).run();
    let check = config_with_data(
        "requires_check = \"grep -q v2 \\\"$HOIST_DATA/version.txt\\\" || { echo wants v2, has $HOIST_DATA_VERSION; exit 3; }\"",
    );
    let (id, artifact) = build(&env, "2.0", &check);
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("its data check")
        .stderr_has("wants v2, has")
        .stderr_has("hoist data roll")
        .run();
    load(&env, "v2");
    env.hoist().args(["data", "roll", "-q"]).run();
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    assert_eq!(env.live().as_deref(), Some(id.as_str()));
}

#[test]
fn rollback_leaves_newer_data_live() {
    // `hoist rollback` put old code back on the newer data, and said nothing about it.
    let env = Env::new();
    env.deploy_version("1.2");
    let d1 = load(&env, "d1");
    env.hoist().args(["data", "roll", "-q"]).run();
    let old = env.deploy_version("1.3");
    let d2 = load(&env, "d2");
    env.hoist().args(["data", "roll", "-q"]).run();
    let new = env.deploy_version("1.4");

    // A plain rollback names the data the older release ran on, and leaves the data alone.
    let plain = env.hoist().args(["rollback", "--json"]).run_json();
    assert_eq!(plain["release"], old.as_str(), "{plain}");
    assert_eq!(plain["data"]["with_target"], d1.as_str(), "{plain}");
    assert_eq!(plain["data"]["live"], d2.as_str(), "{plain}");
    assert_eq!(plain["data"]["reverted"], false, "{plain}");
    assert_eq!(live_data(&env.site()).as_deref(), Some(d2.as_str()));
    let human = env.hoist().args(["rollback", "--to", &new]).run();
    assert!(String::from_utf8_lossy(&human.stdout).contains(&d2));

    // `--with-data` moves the data back with the code, in the same operation.
    let both = env
        .hoist()
        .args(["rollback", "--with-data", "--json", "--to", &old])
        .run_json();
    assert_eq!(both["release"], old.as_str(), "{both}");
    assert_eq!(both["data"]["reverted"], true, "{both}");
    assert_eq!(env.live().as_deref(), Some(old.as_str()));
    assert_eq!(live_data(&env.site()).as_deref(), Some(d1.as_str()));
    let status = env.status();
    assert_eq!(status["data"], d1.as_str(), "{status}");
    assert_eq!(status["pending"], serde_json::Value::Null, "{status}");
    assert_eq!(status["last_event"]["op"], "rollback", "{status}");
    assert_eq!(status["last_event"]["outcome"], "ok", "{status}");

    // And forward again: 1.4 went live on d2, which comes back with it.
    env.hoist()
        .args(["rollback", "-q", "--with-data", "--to", &new])
        .run();
    assert_eq!(env.live().as_deref(), Some(new.as_str()));
    assert_eq!(live_data(&env.site()).as_deref(), Some(d2.as_str()));
}

#[test]
fn a_rollback_onto_data_its_target_refuses_points_at_with_data() {
    let env = Env::new();
    env.deploy_version("1.0");
    load(&env, "d1");
    env.hoist().args(["data", "roll", "-q"]).run();
    let (old, artifact) = build(&env, "1.1", &config_with_data("requires = \"d1\""));
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    load(&env, "d2");
    // 1.1 refuses d2: moved under it anyway, on purpose.
    env.hoist().args(["data", "roll", "-q", "--force"]).run();
    env.write("hoist.toml", DEFAULT_CONFIG);
    env.deploy_version("1.2");
    env.hoist()
        .args(["rollback", "--to", &old])
        .code(1)
        .stderr_has(&format!("release `{old}` requires data `d1`"))
        .stderr_has("Add `--with-data`")
        .run();
    env.hoist()
        .args(["rollback", "-q", "--with-data", "--to", &old])
        .run();
    assert_eq!(env.live().as_deref(), Some(old.as_str()));
}

#[test]
fn data_load_before_first_deploy() {
    // `hoist data load` on a new root said "not a site": seed 000 loads data first.
    let env = Env::with_config(&DEFAULT_CONFIG.replace(
        "checks = [\"test -f index.html\"]",
        "checks = [\"test -f index.html\", \"grep -q first $HOIST_DATA/version.txt\"]",
    ));
    assert!(!env.site().exists());
    let first = load(&env, "first");
    let rolled = env.hoist().args(["data", "roll", "--json"]).run_json();
    assert_eq!(rolled["version"], first.as_str(), "{rolled}");
    // The first deploy's checks already read the data through `$HOIST_DATA`.
    let id = env.deploy_version("1.0");
    assert_eq!(env.live().as_deref(), Some(id.as_str()));
    assert_eq!(env.status()["data"], first.as_str());
}

#[test]
fn rollback_with_data_killed_at_each_step_leaves_code_and_data_together() {
    let env = Env::new();
    env.deploy_version("1.2");
    let d1 = load(&env, "d1");
    env.hoist().args(["data", "roll", "-q"]).run();
    let old = env.deploy_version("1.3");
    let d2 = load(&env, "d2");
    env.hoist().args(["data", "roll", "-q"]).run();
    let new = env.deploy_version("1.4");
    for step in ["data", "switch", "record"] {
        let killed = env
            .hoist()
            .args(["rollback", "--with-data", "--to", &old])
            .env("HOIST_FAULT_KILL_AT", step)
            .status();
        assert_eq!(killed.code(), None, "not killed at `{step}`");
        env.hoist().args(["recover", "-q"]).run();
        let pair = (env.live(), live_data(&env.site()));
        let before = (Some(new.clone()), Some(d2.clone()));
        let after = (Some(old.clone()), Some(d1.clone()));
        assert!(
            pair == before || pair == after,
            "killed at `{step}`: code and data apart: {pair:?}"
        );
        if pair == after {
            env.hoist()
                .args(["rollback", "-q", "--with-data", "--to", &new])
                .run();
        }
    }
}

// `hoist data roll` put the live release onto data its `[data] requires`
// refuses: code and data were tied in one direction only.
#[test]
fn data_roll_ignored_the_live_release_requirement() {
    let env = Env::new();
    let d1 = load(&env, "d1");
    env.hoist().args(["data", "roll", "-q"]).run();
    let (v1, artifact) = build(&env, "1.0", &config_with_data("requires = \"d1\""));
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    let d2 = load(&env, "d2");
    env.hoist()
        .args(["data", "roll", "d2"])
        .code(1)
        .stderr_has(&format!("release `{v1}` requires data `d1`"))
        .stderr_has(&format!("--with-data {d2}"))
        .run();
    assert_eq!(live_data(&env.site()), Some(d1.clone()));
    // On purpose, it still can.
    env.hoist()
        .args(["data", "roll", "-q", "--force", "d2"])
        .run();
    assert_eq!(live_data(&env.site()), Some(d2));
    env.hoist().args(["data", "revert", "-q"]).run();
    assert_eq!(live_data(&env.site()), Some(d1));
}

#[test]
fn deploy_with_data_moves_code_and_data_together() {
    let env = Env::new();
    let d1 = load(&env, "d1");
    env.hoist().args(["data", "roll", "-q"]).run();
    let (v1, first) = build(&env, "1.0", &config_with_data("requires = \"d1\""));
    env.hoist().args(["deploy", "-q"]).arg(&first).run();
    let d2 = load(&env, "d2");
    let (v2, second) = build(&env, "2.0", &config_with_data("requires = \"d2\""));
    // Neither alone: the old code refuses d2, the new code refuses d1.
    env.hoist().arg("deploy").arg(&second).code(1).run();
    env.hoist().args(["data", "roll", "d2"]).code(1).run();
    let deployed = env
        .hoist()
        .args(["deploy", "--json", "--with-data", "d2"])
        .arg(&second)
        .run_json();
    assert_eq!(deployed["release"], v2.as_str(), "{deployed}");
    assert_eq!(env.live(), Some(v2));
    assert_eq!(live_data(&env.site()), Some(d2));
    // And back, both together.
    env.hoist().args(["rollback", "-q", "--with-data"]).run();
    assert_eq!(env.live(), Some(v1));
    assert_eq!(live_data(&env.site()), Some(d1));
}
