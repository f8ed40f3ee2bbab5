//! `[hooks]` bugs a user trial found, each pinned through the real binary:
//! a background child holding the output past the timeout, a hook killed
//! with hoist, `status` during an interrupted deploy, `recover --json`'s
//! ledger row, and raw unbounded hook output.

mod util;

use hoist_site::Step;
use std::path::Path;
use std::time::{Duration, Instant};
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

/// Gone, or a zombie awaiting its reaper: no longer running.
fn not_running(pid: i32) -> bool {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    state.is_empty()
        || state
            .rsplit(')')
            .next()
            .unwrap()
            .trim_start()
            .starts_with('Z')
}

/// Waits (bounded) until `path` holds a line, and returns it.
fn first_line(path: &Path, within: Duration) -> String {
    let until = Instant::now() + within;
    loop {
        if let Some(line) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned))
        {
            return line;
        }
        assert!(
            Instant::now() < until,
            "`{}` was never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (bounded) until `pid` stops running.
fn stops(pid: i32, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if not_running(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    not_running(pid)
}

fn with_hooks(hooks: &str) -> String {
    format!("{}[hooks]\n{hooks}", util::DEFAULT_CONFIG)
}

// Broke: `sleep 40 & echo bg-started` with a 10s timeout held the deploy
// (and the site lock) 41 s and reported the hook ok.
#[test]
fn background_child_holding_the_output_is_killed_at_the_timeout_and_reported() {
    let out = tempfile::tempdir().unwrap();
    let child = out.path().join("child.pid");
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.write(
        "hoist.toml",
        &with_hooks(&format!(
            "post_switch = {{ command = \"sleep 30 & echo $! > {}; echo bg-started\", timeout = \"2s\" }}\n",
            child.display()
        )),
    );
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    let deployed = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .run_json();
    assert_eq!(env.live(), Some(v2));
    let hook = &deployed["hooks"][0];
    assert_eq!(
        hook["ok"], false,
        "a hook leaving its output open failed: {hook}"
    );
    let status = hook["status"].as_str().unwrap();
    assert!(
        status.contains("`sleep`") && status.contains("output open"),
        "{hook}"
    );
    assert!(
        hook["tail"].as_str().unwrap().contains("bg-started"),
        "{hook}"
    );
    let pid: i32 = first_line(&child, Duration::from_secs(1)).parse().unwrap();
    assert!(
        stops(pid, Duration::from_secs(5)),
        "the background child {pid} outlived the hook's timeout"
    );
}

// Broke: a `post_switch` killed with hoist (kill -9) ran once only and kept
// running after hoist died; `hoist recover` said nothing about it.
#[test]
fn post_switch_killed_with_hoist_stops_and_runs_again_in_recover() {
    let env = Env::new();
    env.deploy_version("0.9.0");
    killed_in_post_switch(&env, util::DEFAULT_CONFIG);
}

// The same with an agent: the switch is the agent's, the hook still hoist's.
#[test]
fn agent_mode_post_switch_killed_with_hoist_stops_and_runs_again_in_recover() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("0.9.0");
    let _agent = AgentProcess::start(&env);
    killed_in_post_switch(&env, &agent_config(port, ""));
}

/// Deploys with a `post_switch` that waits the first time, kills hoist
/// there, and checks the hook's child stops and `recover` runs it again.
fn killed_in_post_switch(env: &Env, config: &str) {
    let out = tempfile::tempdir().unwrap();
    let log = out.path().join("k9.log");
    let child = out.path().join("child.pid");
    env.write(
        "hoist.toml",
        &format!(
            "{config}[hooks]\npost_switch = \"echo post-run >> {log}; [ $(wc -l < {log}) -gt 1 ] && exit 0; sleep 600 & echo $! > {child}; wait\"\n",
            log = log.display(),
            child = child.display()
        ),
    );
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    let mut deploy = env.hoist().arg("deploy").arg(&artifact).spawn_output();
    let pid: i32 = first_line(&child, Duration::from_secs(120))
        .parse()
        .unwrap();
    deploy.kill().unwrap();
    deploy.wait().unwrap();
    assert!(
        stops(pid, Duration::from_secs(10)),
        "the hook's child {pid} outlived hoist"
    );
    assert_eq!(env.status()["pending"]["step"], "post-hook");

    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    assert_eq!(recovered["action"], "finished", "{recovered}");
    assert_eq!(env.live(), Some(v2.clone()));
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        lines.lines().count(),
        2,
        "recover runs the hook again: {lines}"
    );
    assert_eq!(recovered["hooks"][0]["hook"], "post_switch", "{recovered}");
    assert_eq!(recovered["hooks"][0]["ok"], true, "{recovered}");
    let last = &env.hoist().args(["history", "--json"]).run_json()[0];
    assert!(
        last["detail"]
            .as_str()
            .unwrap_or("")
            .contains("ran `post_switch` again"),
        "the ledger says the hook ran again: {last}"
    );
}

// Broke: during an interrupted deploy `status` named the release from two
// deploys back as `previous`, not the one live just before.
#[test]
fn status_during_an_interrupted_deploy_names_the_release_it_replaced_as_previous() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let v2 = env.deploy_version("2.0.0");
    env.write("hoist.toml", &with_hooks("post_switch = \"true\"\n"));
    env.set_version("3.0.0");
    let (v3, artifact) = env.build();
    env.kill_at(
        &["deploy", artifact.to_str().unwrap()],
        Step::PostHook.as_str(),
    );
    let status = env.status();
    assert_eq!(status["live"], v3.as_str(), "{status}");
    assert_eq!(status["previous"], v2.as_str(), "{status}");
    env.hoist().args(["recover"]).run();
    assert_eq!(env.status()["previous"], v2.as_str());
}

// Broke: `recover --json` said `"ledger": null` although it wrote a row.
#[test]
fn recover_json_names_the_ledger_row_it_wrote() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.write("hoist.toml", &with_hooks("post_switch = \"true\"\n"));
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    env.kill_at(
        &["deploy", artifact.to_str().unwrap()],
        Step::PostHook.as_str(),
    );
    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    let row = &recovered["ledger"];
    assert_eq!(
        (
            row["op"].as_str(),
            row["release"].as_str(),
            row["outcome"].as_str()
        ),
        (Some("deploy"), Some(v2.as_str()), Some("ok")),
        "{recovered}"
    );
    let last = &env.hoist().args(["history", "--json"]).run_json()[0];
    assert_eq!(row["detail"], last["detail"], "{recovered}");
}

// Broke: the failing hook's "last output lines" was one 500 KB line, with
// terminal escape codes passed through, and stderr came before stdout.
#[test]
fn hook_output_is_bounded_in_order_and_free_of_control_characters() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.write(
        "hoist.toml",
        &with_hooks(
            "pre_switch = \"echo first; echo second >&2; printf %0300000d 0; echo; printf '\\\\033[2J\\\\033[31mFAKE: deploy ok\\\\n'; exit 1\"\n",
        ),
    );
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    let failed = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&artifact)
        .code(1)
        .run();
    let stdout = String::from_utf8_lossy(&failed.stdout);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stdout.len() < 8 * 1024,
        "the JSON error is {} bytes",
        stdout.len()
    );
    assert!(stderr.len() < 16 * 1024, "stderr is {} bytes", stderr.len());
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains('\u{1b}'),
            "an escape code got through: {text:?}"
        );
    }
    let error: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("FAKE: deploy ok"), "{message}");
    assert!(
        message.contains('…'),
        "the long line is cut with a mark: {message}"
    );
    let (first, second) = (
        message.find("first").unwrap(),
        message.find("second").unwrap(),
    );
    assert!(
        first < second,
        "stdout and stderr keep their order: {message}"
    );
}

// The fallback for the above: a hook whose group outlived hoist (its
// leader killed first, so nothing killed the group) is stopped by
// `hoist recover`, which names what it stopped.
#[test]
fn recover_stops_what_a_hook_killed_with_hoist_left_running() {
    let out = tempfile::tempdir().unwrap();
    let child = out.path().join("child.pid");
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.write(
        "hoist.toml",
        &with_hooks(&format!(
            "pre_switch = \"sleep 600 & echo $! > {}; wait\"\n",
            child.display()
        )),
    );
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    let mut deploy = env.hoist().arg("deploy").arg(&artifact).spawn_output();
    let pid: i32 = first_line(&child, Duration::from_secs(120))
        .parse()
        .unwrap();
    // The journal of the deploy in progress (`status` shows it once interrupted).
    let journal = std::fs::read_to_string(env.site().join("journal.json")).unwrap();
    let journal: serde_json::Value = serde_json::from_str(&journal).unwrap();
    let group = journal["hook_group"].as_i64().unwrap() as i32;
    // The group's leader first: the trap that kills the group goes with it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(group),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    deploy.kill().unwrap();
    deploy.wait().unwrap();
    assert!(!not_running(pid), "the hook's child {pid} should still run");
    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    assert_eq!(recovered["action"], "cleaned-up", "{recovered}");
    let stopped = recovered["stopped"].to_string();
    assert!(
        stopped.contains(&format!("`sleep` (pid {pid})")),
        "{recovered}"
    );
    assert!(
        stops(pid, Duration::from_secs(5)),
        "recover left {pid} running"
    );
}
