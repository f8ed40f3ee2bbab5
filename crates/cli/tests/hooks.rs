//! `[hooks]` through the real binary, in external mode and with a real
//! agent: a failing `pre_switch` leaves the old release live and serving;
//! post hooks see `HOIST_FROM`/`HOIST_TO` and the app's env; a hook past
//! its timeout is killed with its children; a `required` `post_switch`
//! that fails switches back; `post_rollback` and `post_data_roll` run; a
//! `kill -9` at either hook step is recovered.

mod util;

use hoist_site::Step;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::http::{get, header};
use util::Env;

/// A hook that writes `NAME FROM TO SECRET PWD` to `out/NAME`.
fn recorder(out: &Path, name: &str) -> String {
    format!(
        "{name} = \"printf '%s|%s|%s|%s|%s\\\\n' $HOIST_HOOK \\\"$HOIST_FROM\\\" \\\"$HOIST_TO\\\" \\\"$APP_SECRET\\\" \\\"$PWD\\\" >> {}/{name}\"\n",
        out.display()
    )
}

/// The lines a [`recorder`] hook wrote, split at `|`.
fn recorded(out: &Path, name: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(out.join(name))
        .unwrap_or_default()
        .lines()
        .map(|line| line.split('|').map(str::to_owned).collect())
        .collect()
}

/// The site's env file (a host setting in `site.toml`), read by the app and its hooks.
fn with_env_file(env: &Env, config: &str) -> String {
    let secrets = env.site().join("shared/app.env");
    std::fs::create_dir_all(secrets.parent().unwrap()).unwrap();
    std::fs::write(&secrets, "APP_SECRET=hunter2\n").unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    match config.contains("[process]\n") {
        true => config.replace("[process]\n", "[process]\nenv_file = \"shared/app.env\"\n"),
        false => format!("{config}[process]\nenv_file = \"shared/app.env\"\n"),
    }
}

fn history(env: &Env) -> serde_json::Value {
    env.hoist().args(["history", "--json"]).run_json()
}

#[test]
fn external_mode_post_hooks_see_from_to_and_the_app_env() {
    let out = tempfile::tempdir().unwrap();
    let env = Env::new();
    let hooks = format!(
        "[hooks]\n{}{}{}",
        recorder(out.path(), "post_switch"),
        recorder(out.path(), "post_rollback"),
        recorder(out.path(), "post_data_roll"),
    );
    let config = with_env_file(&env, &format!("{}{hooks}", util::DEFAULT_CONFIG));
    env.write("hoist.toml", &config);
    let v1 = env.deploy_version("1.0.0");
    let v2 = env.deploy_version("2.0.0");
    let dir = |id: &str| env.release_dir(id).display().to_string();
    assert_eq!(
        recorded(out.path(), "post_switch"),
        [
            ["post_switch", "", &v1, "hunter2", &dir(&v1)],
            ["post_switch", &v1, &v2, "hunter2", &dir(&v2)],
        ],
        "the first deploy has no HOIST_FROM; each runs in its release with the env file"
    );

    let rolled = env.hoist().args(["rollback", "--json"]).run_json();
    assert_eq!(rolled["hooks"][0]["hook"], "post_rollback", "{rolled}");
    assert_eq!(rolled["hooks"][0]["ok"], true);
    assert_eq!(
        recorded(out.path(), "post_rollback"),
        [["post_rollback", &v2, &v1, "hunter2", &dir(&v1)]]
    );

    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("version.txt"), "d1\n").unwrap();
    let loaded = env
        .hoist()
        .args(["data", "load", "--json"])
        .arg(data.path())
        .run_json();
    let version = loaded["version"].as_str().unwrap().to_owned();
    let rolled = env.hoist().args(["data", "roll", "--json"]).run_json();
    assert_eq!(rolled["hooks"][0]["hook"], "post_data_roll", "{rolled}");
    let lines = recorded(out.path(), "post_data_roll");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0][2].as_str(), lines[0][4].as_str()),
        (version.as_str(), dir(&v1).as_str()),
        "HOIST_TO names the data version; it runs in the live release"
    );
}

#[test]
fn post_hook_past_its_timeout_is_killed_with_its_children_and_reported() {
    let out = tempfile::tempdir().unwrap();
    let child = out.path().join("child.pid");
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    env.write(
        "hoist.toml",
        &format!(
            "{}[hooks]\npost_switch = {{ command = \"sleep 600 & echo $! > {}; echo started; wait\", timeout = \"1s\" }}\n",
            util::DEFAULT_CONFIG,
            child.display()
        ),
    );
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    let deployed = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .run_json();
    // Not `required`: reported, and the switch stands.
    assert_eq!(env.live(), Some(v2.clone()));
    let hook = &deployed["hooks"][0];
    assert_eq!(
        (hook["hook"].as_str(), hook["ok"].as_bool()),
        (Some("post_switch"), Some(false)),
        "{deployed}"
    );
    assert!(
        hook["status"].as_str().unwrap().contains("timeout of 1s"),
        "{hook}"
    );
    assert!(hook["tail"].as_str().unwrap().contains("started"), "{hook}");
    let pid: i32 = std::fs::read_to_string(&child)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Killed with the hook's process group: gone, or a zombie awaiting its reaper.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty()
            || state
                .rsplit(')')
                .next()
                .unwrap()
                .trim_start()
                .starts_with('Z'),
        "the hook's child {pid} outlived its timeout: {state}"
    );
    let last = &history(&env)[0];
    assert_eq!(
        (last["release"].as_str(), last["outcome"].as_str()),
        (Some(v2.as_str()), Some("ok"))
    );
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("hook `post_switch`"),
        "the ledger says the hook failed: {last}"
    );
    assert_ne!(v1, v2);
}

#[test]
fn agent_mode_failing_pre_switch_aborts_with_the_old_release_serving() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    let v1 = env.deploy_version("1");
    let _agent = AgentProcess::start(&env);
    env.write(
        "hoist.toml",
        &agent_config(
            port,
            "[hooks]\npre_switch = \"echo warming the cache; exit 3\"\n",
        ),
    );
    env.set_version("2");
    let (_, artifact) = env.build();
    let failed = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .code(1)
        .run();
    // `{"error": {"kind", "message", "hint"}}` on stdout.
    let text = String::from_utf8_lossy(&failed.stdout);
    let error: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(error["error"]["kind"], "hook-failed", "{text}");
    let text = error["error"]["message"].as_str().unwrap();
    for needle in ["pre_switch", "exit status: 3", "warming the cache"] {
        assert!(text.contains(needle), "`{needle}` not in {text}");
    }
    assert_eq!(env.live(), Some(v1.clone()));
    let (status, headers, _) = get(port, "/");
    assert_eq!(
        (status, header(&headers, "x-hoist-release")),
        (200, Some(v1.as_str())),
        "the old release still serves"
    );
    assert!(env.status()["pending"].is_null());
    let last = &history(&env)[0];
    assert_eq!(last["outcome"], "failed", "{last}");
    assert!(
        last["detail"].as_str().unwrap().contains("pre_switch"),
        "{last}"
    );
}

#[test]
fn agent_mode_required_post_switch_failure_switches_back() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    let v1 = env.deploy_version("1");
    let _agent = AgentProcess::start(&env);
    env.write(
        "hoist.toml",
        &agent_config(
            port,
            "[hooks]\npost_switch = { command = \"echo no dist; exit 7\", required = true }\n",
        ),
    );
    env.set_version("2");
    let (v2, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("hook `post_switch`")
        .stderr_has("switched back")
        .run();
    assert_eq!(env.live(), Some(v1.clone()));
    assert_eq!(env.status()["agent"]["live"]["release"], v1.as_str());
    let (status, headers, _) = get(port, "/");
    assert_eq!(
        (status, header(&headers, "x-hoist-release")),
        (200, Some(v1.as_str()))
    );
    let last = &history(&env)[0];
    assert_eq!(
        (last["release"].as_str(), last["outcome"].as_str()),
        (Some(v2.as_str()), Some("rolled-back")),
        "{last}"
    );
    assert!(
        last["detail"].as_str().unwrap().contains("exit status: 7"),
        "{last}"
    );
}

#[test]
fn hooks_killed_at_every_step_recover() {
    let out = tempfile::tempdir().unwrap();
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    env.write(
        "hoist.toml",
        &format!(
            "{}[hooks]\npre_switch = \"true\"\n{}",
            util::DEFAULT_CONFIG,
            recorder(out.path(), "post_switch")
        ),
    );
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    let artifact = artifact.to_str().unwrap();

    // Killed as the pre-switch hook starts: nothing was switched.
    env.kill_at(&["deploy", artifact], Step::PreSwitchHook.as_str());
    assert_eq!(env.status()["pending"]["step"], "pre-switch-hook");
    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    assert_eq!(recovered["action"], "cleaned-up", "{recovered}");
    assert_eq!(env.live(), Some(v1.clone()));

    // Killed as the post hook starts: the switch stands, recover runs the hook.
    env.kill_at(&["deploy", artifact], Step::PostHook.as_str());
    assert_eq!(env.status()["pending"]["step"], "post-hook");
    assert!(recorded(out.path(), "post_switch").is_empty());
    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    assert_eq!(recovered["action"], "finished", "{recovered}");
    assert_eq!(env.live(), Some(v2.clone()));
    let lines = recorded(out.path(), "post_switch");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0][1].as_str(), lines[0][2].as_str()),
        (v1.as_str(), v2.as_str())
    );
    assert!(env.status()["pending"].is_null());
    let last = &history(&env)[0];
    assert_eq!(
        (last["op"].as_str(), last["outcome"].as_str()),
        (Some("deploy"), Some("ok"))
    );
}
