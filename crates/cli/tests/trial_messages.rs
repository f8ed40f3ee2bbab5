//! What a user trial of hoist's messages found (issue 14, items 1 and 6):
//! failed repairs missing from the ledger, messages naming a way out with
//! no `hint`, and config messages that named the wrong key or none. Each
//! test drives the real binary and is named after what was printed.

mod util;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use util::craft::{self, Raw};
use util::Env;

/// The `{"error": ...}` object of a `--json` command that must fail.
fn json_error(env: &Env, args: &[&str]) -> Value {
    let output = env.hoist().args(args).arg("--json").code(1).run();
    let json: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{args:?} printed no JSON ({error})"));
    // The renderer prints the hint under the message: said once, not twice.
    if let (Some(message), Some(hint)) = (
        json["error"]["message"].as_str(),
        json["error"]["hint"].as_str(),
    ) {
        assert!(!message.contains(hint), "{args:?} repeats its hint: {json}");
    }
    json["error"].clone()
}

// Repairs refused for a missing, wrong, garbage or corrupt artifact left no
// row in the ledger, and text `history` did not name the repaired release.
#[test]
fn failed_repairs_were_never_written_to_the_ledger() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    let v2 = env.deploy_version("2.0.0");
    util::tamper(&env.site().join("releases").join(&v1).join("index.html"));
    let kept = env.site().join("incoming").join(format!("{v1}.tar.zst"));
    let v2_artifact = env.site().join("incoming").join(format!("{v2}.tar.zst"));
    let garbage = env.dir.path().join("garbage.tar.zst");
    std::fs::write(&garbage, "not an artifact").unwrap();
    let good_copy = env.dir.path().join("v1-copy.tar.zst");
    std::fs::copy(&kept, &good_copy).unwrap();

    let wrong = v2_artifact.to_str().unwrap();
    let garbage = garbage.to_str().unwrap();
    let attempts: [&[&str]; 3] = [
        &["repair", &v1, "--artifact", "/nonexist.tar.zst"],
        &["repair", &v1, "--artifact", wrong],
        &["repair", &v1, "--artifact", garbage],
    ];
    for args in attempts {
        json_error(&env, args);
    }
    // A corrupt kept artifact, then none at all.
    std::fs::write(&kept, "truncated").unwrap();
    json_error(&env, &["repair", &v1]);
    std::fs::remove_file(&kept).unwrap();
    json_error(&env, &["repair", &v1]);

    let history = env.hoist().args(["history", "--json"]).run_json();
    let refused: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["op"] == "repair")
        .collect();
    assert_eq!(refused.len(), 5, "{history}");
    for event in &refused {
        assert_eq!(event["outcome"], "refused", "{event}");
        assert_eq!(event["release"], v1.as_str(), "{event}");
        assert_eq!(event["from"], v2.as_str(), "{event}");
    }

    let text = env.hoist().arg("history").run();
    let text = String::from_utf8_lossy(&text.stdout);
    let line = text
        .lines()
        .find(|line| line.contains("repair   refused"))
        .unwrap();
    assert!(line.contains(&format!("release {v1}")), "{text}");
    env.hoist()
        .args(["repair", &v1, "--artifact"])
        .arg(&good_copy)
        .run();
    let text = env.hoist().arg("history").run();
    let text = String::from_utf8_lossy(&text.stdout);
    let line = text
        .lines()
        .find(|line| line.contains("repair   ok"))
        .unwrap();
    assert!(line.contains(&format!("repaired {v1}")), "{text}");
}

// `repair --artifact /nonexist.tar.zst` said "no artifact for `<id>` in
// .../incoming"; a corrupt kept artifact hinted `hoist build`, whose id is new.
#[test]
fn repair_artifact_messages_named_the_wrong_problem_and_way_out() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    let missing = json_error(&env, &["repair", &v1, "--artifact", "/nonexist.tar.zst"]);
    let message = missing["message"].as_str().unwrap();
    assert!(
        message.contains("`/nonexist.tar.zst`, does not exist") && !message.contains("incoming"),
        "{missing}"
    );
    let kept = env.site().join("incoming").join(format!("{v1}.tar.zst"));
    std::fs::write(&kept, "truncated").unwrap();
    let corrupt = json_error(&env, &["repair", &v1]);
    assert_eq!(corrupt["kind"], "artifact-invalid", "{corrupt}");
    let hint = corrupt["hint"].as_str().unwrap();
    assert!(
        hint.starts_with(&format!("hoist repair {v1} --artifact")),
        "{corrupt}"
    );
}

// A refused rollback to a damaged release, "no agent answers", `init`
// without `--force` and a missing `[database]` named a way out in the
// message but had no `hint`; config errors named no file to edit.
#[test]
fn messages_naming_a_way_out_had_no_hint() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    env.deploy_version("2.0.0");
    util::tamper(&env.site().join("releases").join(&v1).join("index.html"));
    let damaged = json_error(&env, &["rollback", "--to", &v1]);
    assert_eq!(damaged["kind"], "verify-failed", "{damaged}");
    assert_eq!(damaged["hint"], format!("hoist repair {v1}"), "{damaged}");

    for args in [
        &["pause"][..],
        &["promote"],
        &["drain", "http://127.0.0.1:1"],
    ] {
        let error = json_error(&env, args);
        let hint = error["hint"].as_str().unwrap_or_default();
        assert!(hint.starts_with("hoist agent"), "{args:?}: {error}");
        assert_eq!(error["kind"], "agent-unreachable", "{args:?}: {error}");
    }

    let exists = json_error(&env, &["init"]);
    assert_eq!(exists["kind"], "already-exists", "{exists}");
    assert!(
        exists["hint"].as_str().unwrap().contains("--force"),
        "{exists}"
    );

    let no_database = json_error(&env, &["db", "status"]);
    assert_eq!(no_database["kind"], "no-database", "{no_database}");
    assert!(no_database["hint"].is_string(), "{no_database}");

    env.write(
        "hoist.toml",
        &util::DEFAULT_CONFIG.replace("keep_releases = 3", "keep_releases = \"five\""),
    );
    let config = json_error(&env, &["build"]);
    let hint = config["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains("hoist.toml") && hint.contains("line 7"),
        "{config}"
    );
}

// `max_release_size = "lots"` said "must be parsable string", a bad
// `min_tests` was blamed on `deploy.test`, and "duplicate key" named none.
#[test]
fn config_messages_named_no_key_or_no_expected_form() {
    let env = Env::new();
    let cases = [
        (
            util::DEFAULT_CONFIG.replace("keep_releases = 3", "max_release_size = \"lots\""),
            "`deploy.max_release_size` must be a size such as `10 GiB`",
        ),
        (
            format!(
                "{}[proxy]\nmin_body_rate = \"fast\"\n",
                util::DEFAULT_CONFIG
            ),
            "`proxy.min_body_rate` must be a size such as",
        ),
        (
            util::DEFAULT_CONFIG.replace(
                "keep_releases = 3",
                "test = { command = \"prove\", min_tests = \"ten\" }",
            ),
            "`deploy.test.min_tests` must be a whole number",
        ),
        (
            util::DEFAULT_CONFIG
                .replace("keep_releases = 3", "keep_releases = 3\nkeep_releases = 4"),
            "duplicate key `deploy.keep_releases`",
        ),
    ];
    for (config, expected) in cases {
        env.write("hoist.toml", &config);
        let error = json_error(&env, &["build"]);
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
}

// `maint on --until 30m --message old`, then a script rewrote the flag file:
// `status` still said "until …: old" from the stale `maintenance.json`.
#[test]
fn stale_maintenance_sidecar_overrode_a_new_flag_file() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env.hoist()
        .args(["maint", "on", "--until", "30m", "--message", "old"])
        .run();
    let flag = env.site().join("maintenance");
    std::fs::remove_file(&flag).unwrap();
    std::fs::write(&flag, "new by script\n").unwrap();
    let status = env.hoist().arg("status").run();
    let status = String::from_utf8_lossy(&status.stdout);
    let line = status
        .lines()
        .find(|line| line.contains("flag file"))
        .unwrap();
    assert!(!line.contains("old") && !line.contains("until"), "{status}");
    let json = env.status();
    assert!(json["maintenance_flag"]["until"].is_null(), "{json}");
}

// A check that made a FIFO deployed with exit 0, and `verify` failed at
// once; a generated symlink to /etc was sealed into the release.
#[test]
fn generated_fifo_deployed_and_then_failed_verify() {
    for (check, expected) in [
        (
            "mkfifo gen_fifo",
            "`gen_fifo` in the release, which is a FIFO",
        ),
        (
            "ln -s /etc gen_etc",
            "`gen_etc` in the release, a symlink that leads to an absolute path outside",
        ),
        (
            "ln -s ../../../../etc gen_up",
            "`gen_up` in the release, a symlink that leads outside the release",
        ),
    ] {
        let config = util::DEFAULT_CONFIG.replace(
            "checks = [\"test -f index.html\"]",
            &format!("checks = [\"{check}\"]"),
        );
        let env = Env::with_config(&config);
        let (id, artifact) = env.build();
        let error = json_error(&env, &["deploy", artifact.to_str().unwrap()]);
        assert_eq!(error["kind"], "generated-unsafe", "{check}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(expected), "{check}: {message}");
        assert!(env.live().is_none(), "{check}: went live");
        assert!(
            !env.site().join("releases").join(&id).exists(),
            "{check}: the release was kept"
        );
    }
}

// "reported 2 tests, fewer than the 3 counted at the last deploy" named no
// way out; `rollback --to` a failed release named none either.
#[test]
fn test_gate_and_failed_release_refusals_were_dead_ends() {
    let config = format!(
        "{}test = {{ command = \"sh t.sh\" }}\nrestart = \"test ! -f ../../shared/log/broken\"\n",
        util::DEFAULT_CONFIG
    );
    let env = Env::with_config(&config);
    env.write("t.sh", "echo 1..3; echo ok 1; echo ok 2; echo ok 3\n");
    env.deploy_version("1.0.0");
    env.write("t.sh", "echo 1..2; echo ok 1; echo ok 2\n");
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    let artifact = artifact.to_str().unwrap();
    let gate = json_error(&env, &["deploy", artifact]);
    assert_eq!(gate["kind"], "test-gate", "{gate}");
    assert_eq!(gate["hint"], "hoist deploy --allow-fewer-tests ARTIFACT");
    env.hoist()
        .args(["deploy", "--allow-fewer-tests", artifact])
        .run();
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));
    let history = env.hoist().args(["history", "--json"]).run_json();
    let detail = history[0]["detail"].as_str().unwrap();
    assert!(detail.contains("--allow-fewer-tests"), "{history}");

    let broken = env.site().join("shared/log/broken");
    std::fs::write(&broken, "").unwrap();
    env.set_version("3.0.0");
    let (v3, artifact) = env.build();
    env.hoist().arg("deploy").arg(&artifact).code(1).run();
    let failed = json_error(&env, &["rollback", "--to", &v3]);
    assert_eq!(failed["kind"], "release-failed", "{failed}");
    let kept = env.site().join("incoming").join(format!("{v3}.tar.zst"));
    assert_eq!(
        failed["hint"],
        format!("hoist deploy {}", kept.display()),
        "{failed}"
    );
    // The way out works once the cause is fixed.
    std::fs::remove_file(&broken).unwrap();
    env.hoist().arg("deploy").arg(&kept).run();
    assert_eq!(env.live(), Some(v3));
}

// A first deploy that failed still wrote `site.toml`, so its host settings
// stuck to the site though nothing of it ever went live.
#[test]
fn failed_first_deploy_left_site_toml_behind() {
    let config = format!("{}restart = \"test ! -f broken\"\n", util::DEFAULT_CONFIG);
    let env = Env::with_config(&config);
    env.write("broken", "");
    let (_, artifact) = env.build();
    env.hoist().arg("deploy").arg(&artifact).code(1).run();
    assert!(
        !env.site().join("site.toml").exists(),
        "site.toml written by a failed first deploy"
    );
    std::fs::remove_file(env.src().join("broken")).unwrap();
    env.deploy_version("1.0.1");
    assert!(env.site().join("site.toml").exists());
}

/// Runs `hoist ARGS` with stdout a pipe whose reader is already gone.
fn into_closed_pipe(env: &Env, args: &[&str]) -> std::process::Output {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    std::process::Command::new(util::BIN)
        .args(args)
        .current_dir(env.src())
        .env_remove("HOIST_ROOT")
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

const PYCACHE_CHECK: &str = "checks = [\"mkdir -p __pycache__ && echo x > __pycache__/app.pyc\"]";

// A deleted `__pycache__` was "changed-generated" and repair "removed" it;
// the header said "2 generated paths … unchanged" above changed ones; and
// `verify --json | head -1` exited 0 where the text form exited 1.
#[test]
fn deleted_pycache_was_called_changed_and_a_closed_pipe_hid_exit_1() {
    let config = util::DEFAULT_CONFIG.replace("checks = [\"test -f index.html\"]", PYCACHE_CHECK);
    let env = Env::with_config(&config);
    let v1 = env.deploy_version("1.0.0");
    let verified = env.hoist().arg("verify").run();
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(text.contains("(2 generated paths, written"), "{text}");

    let release = env.site().join("releases").join(&v1);
    let pycache = release.join("__pycache__");
    std::fs::set_permissions(&release, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&pycache, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir_all(&pycache).unwrap();
    std::fs::set_permissions(&release, std::fs::Permissions::from_mode(0o555)).unwrap();

    let json = env.hoist().args(["verify", "--json"]).code(1).run_json();
    assert_eq!(
        json["missing_generated"],
        serde_json::json!(["__pycache__", "__pycache__/app.pyc"]),
        "{json}"
    );
    assert_eq!(json["changed_generated"], serde_json::json!([]), "{json}");
    let verified = env.hoist().arg("verify").code(1).run();
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(
        text.contains("missing generated __pycache__") && !text.contains("unchanged"),
        "{text}"
    );
    for args in [&["verify", "--json"][..], &["verify"]] {
        let output = into_closed_pipe(&env, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
    }

    let repaired = env.hoist().args(["repair", &v1]).run();
    let text = String::from_utf8_lossy(&repaired.stdout);
    assert!(
        text.contains("missing generated") && !text.contains("removed"),
        "{text}"
    );
    env.hoist().arg("verify").run();
}

// With one generated path the deploy said "wrote 1 paths" and verify "1 generated paths".
#[test]
fn one_generated_path_was_called_1_paths() {
    let config = util::DEFAULT_CONFIG.replace(
        "checks = [\"test -f index.html\"]",
        "checks = [\"echo x > gen.txt\"]",
    );
    let env = Env::with_config(&config);
    env.set_version("1.0.0");
    let (_, artifact) = env.build();
    let deployed = env.hoist().arg("deploy").arg(&artifact).run();
    let stderr = String::from_utf8_lossy(&deployed.stderr);
    assert!(stderr.contains("wrote 1 path ("), "{stderr}");
    let verified = env.hoist().arg("verify").run();
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(text.contains("(1 generated path, written"), "{text}");
}

// `db migrate --dry-run --migrations nonexist` said "would apply: nothing",
// exit 0; an empty `HOIST_ROOT=` said "a value is required for '--root <DIR>'".
#[test]
fn missing_migrations_dir_read_as_nothing_to_apply() {
    let env = Env::with_config(
        "[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../site\"\n[database]\nurl = \"sqlite://shared/app.db\"\n",
    );
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.deploy_version("1");
    let error = json_error(
        &env,
        &["db", "migrate", "--dry-run", "--migrations", "nonexist"],
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("`nonexist`") && message.contains("does not exist"),
        "{error}"
    );

    let status = env
        .hoist()
        .args(["status", "--json"])
        .env("HOIST_ROOT", "")
        .run_json();
    assert!(status["live"].is_string(), "{status}");
}

/// `hoist build --json --from-tarball TARBALL ARGS`, whatever its exit.
fn import(env: &Env, tarball: &Path, args: &[&str]) -> std::process::Output {
    env.hoist()
        .args(["build", "--json", "--from-tarball"])
        .arg(tarball)
        .args(args)
        .output()
}

// Importing a tarball: its one top dir was kept silently, `noname.tgz` got
// version "0", a shipped `.hoist-manifest.json` was dropped silently, a hard
// link was "a Link entry", and an escaping link was named by the temp path.
#[test]
fn tarball_import_kept_quiet_about_what_it_did() {
    let env = Env::new();
    let one_top = env.dir.path().join("shop-1.2.tar");
    craft::plain_tar(
        &one_top,
        vec![
            craft::dir("shop-1.2"),
            craft::file("shop-1.2/index.html", b"x"),
        ],
    );
    let output = import(&env, &one_top, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("one directory, `shop-1.2/`") && stderr.contains("--strip-components 1"),
        "{stderr}"
    );

    let noname = env.dir.path().join("noname.tar");
    craft::plain_tar(&noname, vec![craft::file("index.html", b"x")]);
    let output = import(&env, &noname, &[]);
    assert_eq!(output.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "version-missing", "{error}");
    let hint = error["error"]["hint"].as_str().unwrap();
    assert!(hint.contains("--version VERSION"), "{error}");

    let metadata = env.dir.path().join("meta-1.0.tar");
    craft::plain_tar(
        &metadata,
        vec![
            craft::file("index.html", b"x"),
            craft::file(".hoist-manifest.json", b"{}"),
        ],
    );
    let output = import(&env, &metadata, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("`.hoist-manifest.json` in the tarball is left out"),
        "{stderr}"
    );

    for (kind, said) in [
        (tar::EntryType::Link, "is a hard link"),
        (tar::EntryType::Char, "is a device file"),
        (tar::EntryType::Fifo, "is a FIFO"),
    ] {
        let tarball = env.dir.path().join("special-1.0.tar");
        craft::plain_tar(
            &tarball,
            vec![Raw {
                name: "special".into(),
                kind,
                data: Vec::new(),
                link: Some("index.html".into()),
            }],
        );
        let output = import(&env, &tarball, &[]);
        let error: Value = serde_json::from_slice(&output.stdout).unwrap();
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(said) && !message.contains("entry;"),
            "{message}"
        );
    }

    let escaping = env.dir.path().join("esc-1.0.tar");
    craft::plain_tar(
        &escaping,
        vec![
            craft::dir("esc-1.0"),
            craft::symlink("esc-1.0/up", "../../../etc"),
        ],
    );
    let output = import(&env, &escaping, &["--strip-components", "1"]);
    let error: Value = serde_json::from_slice(&output.stdout).unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`esc-1.0/up`") && !message.contains(".import-"),
        "{message}"
    );
}
