//! `--json` on every command: results are a JSON object on stdout, and a
//! failure is `{"error": {"kind", "message", "hint"}}` there (exit 1; a
//! usage error exit 2). Every subcommand is found from `hoist --help`, so a
//! new one cannot be missed; `logs` and `agent` stream JSON lines.

mod util;

use std::io::BufRead as _;
use std::path::Path;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::{Cmd, Env};

// `pause`, `resume`, `abort` and `maint off` printed nothing on stdout
// under `--json`, so a script reading it got no result at all.
#[test]
fn json_results_were_empty_for_one_line_commands() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    let paused = env
        .hoist()
        .args(["pause", "--max", "5s", "--json"])
        .run_json();
    assert_eq!(
        (paused["paused"].as_bool(), paused["max_ms"].as_u64()),
        (Some(true), Some(5000))
    );
    let resumed = env.hoist().args(["resume", "--json"]).run_json();
    assert_eq!(resumed["resumed"], true);
    let aborted = env.hoist().args(["abort", "--json"]).run_json();
    assert!(aborted["aborted"].is_null(), "{aborted}");
    let off = env.hoist().args(["maint", "off", "--json"]).run_json();
    assert!(
        off["maintenance"].is_null() && off["flag_file_removed"] == false,
        "{off}"
    );
    // A usage error is a JSON object too, with exit code 2.
    let usage = env
        .hoist()
        .args(["canary", "--percent", "abc", "--json"])
        .code(2)
        .run();
    let error: serde_json::Value = serde_json::from_slice(&usage.stdout).unwrap();
    assert!(
        error["error"]["kind"] == "usage"
            && error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--percent"),
        "{error}"
    );
}

/// The subcommands `hoist [PARENT] --help` lists (without `help`).
fn subcommands(parent: &[&str], cwd: &Path) -> Vec<String> {
    let help = Cmd::new(cwd).args(parent).arg("--help").run();
    let text = String::from_utf8(help.stdout).unwrap();
    let Some(list) = text.split("Commands:\n").nth(1) else {
        return Vec::new();
    };
    list.lines()
        .take_while(|line| line.starts_with("  "))
        // A long description wraps onto lines indented deeper than a name.
        .filter(|line| !line[2..].starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every leaf command line, `["db", "migrate"]`, `["status"]`...
fn leaves(cwd: &Path) -> Vec<Vec<String>> {
    let mut leaves = Vec::new();
    for name in subcommands(&[], cwd) {
        let children = subcommands(&[name.as_str()], cwd);
        if children.is_empty() {
            leaves.push(vec![name]);
            continue;
        }
        for child in children {
            leaves.push(vec![name.clone(), child]);
        }
    }
    leaves
}

/// Arguments that let `leaf` do its work on the test site.
fn arguments(leaf: &[String], env: &Env, artifact: &Path) -> Vec<String> {
    let data = env.dir.path().join("catalog");
    let words: Vec<&str> = leaf.iter().map(String::as_str).collect();
    let extra: Vec<String> = match words.as_slice() {
        ["deploy"] => vec![artifact.display().to_string()],
        ["build"] => vec!["--out".into(), "dist".into()],
        ["maint", "on"] => vec!["--until".into(), "20m".into()],
        ["canary"] => vec!["--percent".into(), "5".into()],
        ["drain"] | ["undrain"] => vec!["http://127.0.0.1:1".into()],
        ["db", "restore"] => vec!["nothing.sql".into()],
        ["db", "repair"] => vec!["1".into(), "--applied".into()],
        ["db", "diff"] => vec!["--against".into(), env.site().display().to_string()],
        ["data", "load"] => vec![data.display().to_string()],
        ["data", "pull"] => vec!["--from".into(), env.site().display().to_string()],
        ["unlock"] => vec!["--reason".into(), "test".into()],
        // Never the host's own /etc/systemd/system.
        ["systemd"] => vec!["--dir".into(), env.dir.path().display().to_string()],
        _ => Vec::new(),
    };
    leaf.iter().cloned().chain(extra).collect()
}

/// stdout is JSON: one document, or (for streams) one per line; on failure,
/// the error object with its kind and message.
#[track_caller]
fn assert_json(what: &str, output: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "`{what}` exited {code:?}\n{stderr}"
    );
    let whole = serde_json::from_str::<serde_json::Value>(&stdout);
    let values: Vec<serde_json::Value> = match whole {
        Ok(value) => vec![value],
        Err(_) => stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|error| {
                    panic!("`{what}` (exit {code:?}) printed non-JSON ({error}):\n{stdout}\n--- stderr:\n{stderr}")
                })
            })
            .collect(),
    };
    assert!(
        !values.is_empty(),
        "`{what}` (exit {code:?}) printed nothing on stdout\n--- stderr:\n{stderr}"
    );
    if code != Some(0) {
        let error = &values.last().unwrap()["error"];
        assert!(
            error["kind"].is_string() && error["message"].is_string(),
            "`{what}` (exit {code:?}) did not print an error object: {stdout}"
        );
        assert_eq!(
            code == Some(2),
            error["kind"] == "usage",
            "`{what}`: exit 2 is a usage error and only that: {stdout}"
        );
    }
}

#[test]
fn every_subcommand_prints_json_on_success_and_on_failure() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.set_version("2.0.0");
    let (live, artifact) = env.build();
    std::fs::create_dir_all(env.dir.path().join("catalog")).unwrap();
    std::fs::write(env.dir.path().join("catalog/a.txt"), "a\n").unwrap();
    let leaves = leaves(&env.src());
    for expected in [
        &["status"][..],
        &["db", "migrate"],
        &["maint", "on"],
        &["logs"],
    ] {
        assert!(
            leaves.iter().any(|leaf| leaf == expected),
            "{expected:?} not found in `hoist --help`: {leaves:?}"
        );
    }
    let not_a_site = tempfile::tempdir().unwrap();
    let mut succeeded = Vec::new();
    for leaf in &leaves {
        let what = leaf.join(" ");
        if what == "agent" {
            continue; // a server: `agent_streams_json_lines` below
        }
        let log_dir = env.site().join("shared/log/hoist");
        if what == "logs" {
            let live = env.live().unwrap();
            std::fs::create_dir_all(&log_dir).unwrap();
            std::fs::write(log_dir.join(format!("{live}.log")), "started\n{\"a\":1}\n").unwrap();
        }
        let cwd = if what == "init" {
            not_a_site.path().to_owned()
        } else {
            env.src()
        };
        // Success (or the failure this site gives, e.g. no agent or no database).
        let output = Cmd::new(&cwd)
            .args(arguments(leaf, &env, &artifact))
            .arg("--json")
            .output();
        assert_json(&what, &output);
        if output.status.success() {
            succeeded.push(what.clone());
        }
        // Failure: a root that is no site.
        let output = Cmd::new(&cwd)
            .args(arguments(leaf, &env, &artifact))
            .args(["--json", "--root"])
            .arg(not_a_site.path().join("nothing"))
            .output();
        assert_json(&format!("{what} --root nothing"), &output);
        // A usage error.
        let output = Cmd::new(&cwd)
            .args(leaf)
            .args(["--json", "--no-such-flag"])
            .output();
        assert_eq!(output.status.code(), Some(2), "{what} --no-such-flag");
        assert_json(&format!("{what} --no-such-flag"), &output);
    }
    for must in [
        "status", "releases", "history", "verify", "build", "logs", "maint on",
    ] {
        assert!(
            succeeded.iter().any(|done| done == must),
            "`{must} --json` did not succeed; succeeded: {succeeded:?}"
        );
    }
    let _ = live;
}

// `hoist logs --json` printed the log as plain text.
#[test]
fn logs_json_printed_plain_text() {
    let env = Env::new();
    let live = env.deploy_version("1.0.0");
    let log_dir = env.site().join("shared/log/hoist");
    std::fs::create_dir_all(&log_dir).unwrap();
    std::fs::write(log_dir.join(format!("{live}.log")), "one\ntwo \"quoted\"\n").unwrap();
    let output = env.hoist().args(["logs", "--json"]).run();
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["line"], "two \"quoted\"");
    assert_eq!(lines[1]["release"], live.as_str());
}

// Under `--json` the agent's readiness line was plain text on stdout.
#[test]
fn agent_streams_json_lines() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("1.0.0");
    let mut child = std::process::Command::new(util::BIN)
        .args(["agent", "--json"])
        .current_dir(env.src())
        .env_remove("HOIST_ROOT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let output = child.wait_with_output().unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(ready["agent"], "listening", "{line}");
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
