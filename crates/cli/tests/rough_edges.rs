//! The rough edges a new user hit in the first hour (issue 14, item 6),
//! each pinned through the real binary and named after what was printed.

mod util;

use std::os::fd::OwnedFd;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::{Cmd, Env};

/// Runs `hoist ARGS` with stdout a pipe whose reader is already gone.
fn run_into_closed_pipe(env: &Env, args: &[&str]) -> std::process::Output {
    let (reader, writer): (OwnedFd, OwnedFd) = nix::unistd::pipe().unwrap();
    drop(reader);
    let mut command = std::process::Command::new(util::BIN);
    command
        .args(args)
        .current_dir(env.src())
        .env_remove("HOIST_ROOT")
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped());
    command.output().unwrap()
}

// `hoist releases --json | head` printed "error: Broken pipe (os error 32)":
// serde_json wraps the io error, so the broken-pipe check missed it.
#[test]
fn releases_json_into_closed_pipe_printed_broken_pipe() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    for args in [
        &["releases", "--json"][..],
        &["releases"],
        &["history", "--json"],
    ] {
        let output = run_into_closed_pipe(&env, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} said something: {stderr}");
    }
}

// "invalid type: string "five", expected usize" is serde's jargon, not an answer.
#[test]
fn config_type_error_was_serde_jargon() {
    let config = util::DEFAULT_CONFIG.replace("keep_releases = 3", "keep_releases = \"five\"");
    let env = Env::with_config(&config);
    let output = env.hoist().arg("build").code(1).run();
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("`deploy.keep_releases` must be a whole number")
            && message.contains("got the string \"five\"")
            && message.contains("at line 7")
            && !message.contains("invalid type"),
        "{message}"
    );
    let output = env.hoist().args(["build", "--json"]).code(1).run();
    let error: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "config-invalid", "{error}");
}

// A foreign `DDGC-0.940.tar.gz` was called "corrupt or truncated: Unknown frame descriptor".
#[test]
fn foreign_tarball_was_called_corrupt() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let tarball = env.dir.path().join("DDGC-0.940.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("czf")
        .arg(&tarball)
        .arg("-C")
        .arg(env.dir.path())
        .arg("src")
        .status()
        .unwrap();
    assert!(status.success());
    let output = env.hoist().arg("deploy").arg(&tarball).code(1).run();
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("is not a hoist artifact")
            && message.contains("gzip")
            && message.contains("hint: hoist build --from-tarball"),
        "{message}"
    );
    let output = env
        .hoist()
        .arg("deploy")
        .arg(&tarball)
        .arg("--json")
        .code(1)
        .run();
    let error: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "artifact-not-hoist");
    assert!(
        error["error"]["hint"]
            .as_str()
            .unwrap()
            .starts_with("hoist build --from-tarball "),
        "{error}"
    );
}

// `git describe` ids repeated the revision: `…-1-g8af8832-8af8832`.
#[test]
fn git_describe_id_repeated_the_revision() {
    let env = Env::new();
    // No `version` in hoist.toml: it comes from `git describe`.
    let config = std::fs::read_to_string(env.src().join("hoist.toml")).unwrap();
    env.write("hoist.toml", &config.replace("version = \"1.0.0\"\n", ""));
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(env.src())
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    git(&["init", "-q"]);
    env.write(".gitignore", "dist/\n");
    git(&["add", "."]);
    git(&["commit", "-qm", "one"]);
    git(&["tag", "v1.2"]);
    env.write("index.html", "two\n");
    git(&["commit", "-qam", "two"]);
    let revision = git(&["rev-parse", "--short=7", "HEAD"]);
    let (id, _) = env.build();
    assert!(id.ends_with(&format!("-1.2-1-g{revision}")), "{id}");
    assert_eq!(id.matches(revision.as_str()).count(), 1, "{id}");
}

// `hoist -c ../x.toml build` packed the config file's directory, not the current one.
#[test]
fn build_with_config_elsewhere_packed_the_config_dir() {
    let env = Env::new();
    let elsewhere = env.dir.path().join("configs");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("x.toml"), util::DEFAULT_CONFIG).unwrap();
    std::fs::write(elsewhere.join("secret-notes.txt"), "not the app\n").unwrap();
    let built = env
        .hoist()
        .args(["-c", "../configs/x.toml", "build", "--json"])
        .run_json();
    let artifact = built["artifact"].as_str().unwrap();
    assert!(
        artifact.starts_with(&env.src().join("dist").display().to_string()),
        "{artifact}"
    );
    let opened = hoist_store::Artifact::open(artifact.as_ref(), u64::MAX).unwrap();
    let files: Vec<&str> = opened
        .manifest()
        .files
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    assert!(files.contains(&"index.html"), "{files:?}");
    assert!(!files.contains(&"secret-notes.txt"), "{files:?}");
}

// A lock held by another tool named "`unknown` on `vm` (pid 0)".
#[test]
fn foreign_lock_named_unknown_pid_0() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let lock = env.site().join("deploy.lock");
    let flock = util::held_lock::HeldLock::hold(&lock);
    let pid = flock.pid();
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    let output = env.hoist().arg("deploy").arg(&artifact).code(1).output();
    flock.release();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("another process (pid {})", pid))
            && stderr.contains("not hoist")
            && !stderr.contains("`unknown`"),
        "{stderr}"
    );
    // The hint runs from anywhere: it names the lock file by its full path.
    let full = lock.canonicalize().unwrap();
    assert!(
        stderr.contains(&format!("hint: fuser -v {}", full.display())),
        "{stderr}"
    );
}

// The agent exited on TERM without a log line.
#[test]
fn agent_exited_on_term_without_a_log_line() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("1.0.0");
    let mut command = std::process::Command::new(util::BIN);
    command
        .arg("agent")
        .env_remove("HOIST_LOG")
        .env_remove("HOIST_LOG_FORMAT")
        .stderr(std::process::Stdio::piped());
    let mut agent = AgentProcess::spawn_command(&env, command, &["agent"]);
    let mut stderr = agent.take_stderr().unwrap();
    agent.terminate();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
    assert!(
        text.contains("agent stopping") && text.contains("signal=TERM"),
        "{text}"
    );
    assert!(text.contains("agent stopped"), "{text}");
}

// `maint on --until` without an agent dropped the time, and `status` did not
// mention maintenance in that mode.
#[test]
fn maint_until_without_agent_dropped_the_time() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.hoist()
        .args(["maint", "on", "--until", "2h", "--message", "db upgrade"])
        .run();
    // The flag file stays what nginx's `if (-f ...)` and existing scripts expect.
    let flag = std::fs::read_to_string(env.site().join("maintenance")).unwrap();
    assert_eq!(flag, "db upgrade\n");
    let status = env.status();
    let until: jiff::Timestamp = status["maintenance_flag"]["until"]
        .as_str()
        .expect("status names the until")
        .parse()
        .unwrap();
    let ahead = until.duration_since(jiff::Timestamp::now());
    assert!(
        ahead.as_secs() > 3600 && ahead.as_secs() <= 7200,
        "{status}"
    );
    let human = env.hoist().arg("status").run();
    let human = String::from_utf8(human.stdout).unwrap();
    let line = human
        .lines()
        .find(|line| line.contains("maintenance"))
        .expect("status mentions maintenance");
    assert!(
        line.contains("until") && line.contains("db upgrade"),
        "{line}"
    );
    env.hoist().args(["maint", "off"]).run();
    assert!(env.status()["maintenance_flag"].is_null());
    assert!(!env.site().join("maintenance.json").exists());
}

// `--until 10:00` earlier than now silently meant tomorrow ("in about 955 min").
#[test]
fn until_earlier_today_silently_meant_tomorrow() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let output = env
        .hoist()
        .args(["maint", "on", "--until", "00:00", "--json"])
        .code(2)
        .run();
    let error: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "usage");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is in the past"),
        "{error}"
    );
    assert!(
        error["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("tomorrow"),
        "{error}"
    );
    assert!(!env.site().join("maintenance").exists());
    // Said explicitly, tomorrow is fine.
    env.hoist()
        .args(["maint", "on", "--until", "tomorrow 00:00"])
        .run();
}

// `maint on --until 400d` exited 1 while `pause --max 9999d` exited 2.
#[test]
fn maint_until_out_of_range_exited_1() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.hoist()
        .args(["maint", "on", "--until", "400d"])
        .code(2)
        .run();
    env.hoist().args(["pause", "--max", "9999d"]).code(2).run();
}

// `{{until}}` in a custom page expanded to a sentence, not a time.
#[test]
fn until_placeholder_expanded_to_a_sentence() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    let page = env.dir.path().join("page.html");
    std::fs::write(&page, "<p>back at {{until}}</p><p>{{until_text}}</p>").unwrap();
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
    let until = until.round(jiff::Unit::Second).unwrap();
    env.hoist()
        .args(["maint", "on", "--until", &until.to_string(), "--page"])
        .arg(&page)
        .run();
    let (status, _, body) = util::http::get(port, "/");
    assert_eq!(status, 503, "{body}");
    let time = until.strftime("%a, %d %b %Y %H:%M GMT").to_string();
    assert!(body.contains(&format!("<p>back at {time}</p>")), "{body}");
    assert!(body.contains("We expect to be back by"), "{body}");
}

// `hoist db migrate --dry-run` named migrations but not their SQL.
#[test]
fn db_migrate_dry_run_hid_the_sql() {
    let config = format!(
        "{}[database]\nurl = \"sqlite://shared/app.db\"\n",
        util::DEFAULT_CONFIG
    );
    let env = Env::with_config(&config);
    env.deploy_version("1.0.0");
    let migrations = env.dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    let sql = "CREATE TABLE orders (id INTEGER PRIMARY KEY);";
    std::fs::write(migrations.join("0001_orders.up.sql"), sql).unwrap();
    let dry = |json: bool| {
        let mut command = env
            .hoist()
            .args(["db", "migrate", "--dry-run", "--migrations"])
            .arg(&migrations);
        if json {
            command = command.arg("--json");
        }
        String::from_utf8(command.run().stdout).unwrap()
    };
    let human = dry(false);
    assert!(
        human.contains("-- 0001_orders") && human.contains(sql),
        "{human}"
    );
    let json: serde_json::Value = serde_json::from_str(&dry(true)).unwrap();
    assert_eq!(json["sql"][0]["name"], "0001_orders", "{json}");
    assert_eq!(json["sql"][0]["sql"], sql, "{json}");
    // Nothing ran.
    let status = Cmd::new(&env.src())
        .args(["db", "status", "--json", "--migrations"])
        .arg(&migrations)
        .run_json();
    assert_eq!(status["pending"].as_array().unwrap().len(), 1, "{status}");
}

// "cannot open artifact `dist/nope.tar.zst`: No such file or directory (os
// error 2): No such file or directory (os error 2)" repeated its cause.
#[test]
fn missing_artifact_repeated_its_cause() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let output = env
        .hoist()
        .args(["deploy", "dist/nope.tar.zst"])
        .code(1)
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
    let output = env
        .hoist()
        .args(["deploy", "dist/nope.tar.zst", "--json"])
        .code(1)
        .run();
    let error: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "not-found", "{error}");
}

/// A reason with a newline and an ANSI escape reached the terminal raw in
/// `hoist history`: it could start a forged line and recolour the screen.
#[test]
fn history_printed_a_reasons_newline_and_escape_raw() {
    let env = Env::new();
    env.set_version("1");
    let (_, artifact) = env.build();
    env.hoist()
        .args([
            "deploy",
            "-q",
            "--reason",
            "fix\n2026-12-01 deploy ok \u{1b}[31mRED",
        ])
        .arg(artifact)
        .run();
    let output = env.hoist().arg("history").run();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    assert!(
        stdout.contains(r"reason: fix\n2026-12-01 deploy ok \u{1b}[31mRED"),
        "{stdout}"
    );
}
