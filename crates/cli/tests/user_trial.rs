//! Regressions from a user trial of main: a recover that kept a migration
//! under older code, a switch back nobody checked, ledger rows that said
//! less (or other) than what happened, and words that were not true.

mod util;

use util::Env;

/// The newest ledger row of `op`.
fn last_row(env: &Env, op: &str) -> serde_json::Value {
    let history = env.hoist().args(["history", "--json"]).run_json();
    let rows = history.as_array().unwrap();
    let row = rows.iter().find(|row| row["op"] == op);
    row.unwrap_or_else(|| panic!("no `{op}` in {history}"))
        .clone()
}

// `recover` after a deploy killed at `switch` said "live release unchanged"
// but left the deploy's migration applied under the older code.
#[test]
fn recover_left_migration_applied_under_older_code() {
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
    let v1 = env.deploy_version("0.940");
    env.write(
        "migrations/0003_title.up.sql",
        "ALTER TABLE a ADD COLUMN title TEXT;\n",
    );
    env.write(
        "migrations/0003_title.down.sql",
        "ALTER TABLE a DROP COLUMN title;\n",
    );
    env.set_version("0.941");
    let (v2, artifact) = env.build();
    env.kill_at(&["deploy", artifact.to_str().unwrap()], "switch");
    assert_eq!(env.applied().len(), 3, "0003 ran before the kill");
    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    assert_eq!(recovered["action"], "cleaned-up", "{recovered}");
    assert_eq!(env.live(), Some(v1));
    assert_eq!(
        env.applied(),
        ["0001_a", "0002_b"],
        "the live release's schema again"
    );
    let status = env.hoist().args(["db", "status"]).run();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(!text.contains("unknown"), "{text}");
    let row = last_row(&env, "deploy");
    assert_eq!(row["outcome"], "interrupted", "{row}");
    assert_eq!(row["migrations"][0], "0003_title", "{row}");
    // The release stays, complete, and deploys again with its migration.
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    assert_eq!(env.live(), Some(v2));
    assert_eq!(env.applied().len(), 3);
}

// A migration without a down: recover kept it silently; it must say so and
// name the command that undoes it.
#[test]
fn recover_kept_undoable_migration_without_saying_so() {
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    let v1 = env.deploy_version("1.0");
    env.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
    env.set_version("2.0");
    let (v2, artifact) = env.build();
    env.kill_at(&["deploy", artifact.to_str().unwrap()], "switch");
    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    assert_eq!(env.live(), Some(v1));
    let warning = recovered["warning"].as_str().unwrap_or_default();
    assert!(warning.contains("hoist db rollback --to 1"), "{recovered}");
    let row = last_row(&env, "deploy");
    assert!(
        row["failure"]
            .as_str()
            .unwrap_or_default()
            .contains("hoist db rollback"),
        "{row}"
    );
    assert!(
        env.site().join("releases").join(&v2).is_dir(),
        "the release with the downs' files stays"
    );
}

/// A site whose host settings (`site.toml`) carry `[deploy] extra`.
fn host_settings(env: &Env, extra: &str) {
    env.write("hoist.toml", &format!("{}{extra}", util::DEFAULT_CONFIG));
    env.hoist().args(["init", "--site", "--force"]).run();
}

// After a failed health check hoist switched back and said "switched back
// to v4" without checking that v4 answered at all.
#[test]
fn switch_back_reported_without_health_of_old_release() {
    let sick = util::HealthServer::start(500);
    let env = Env::new();
    let v4 = env.deploy_version("4.0");
    host_settings(
        &env,
        &format!("health = \"{}\"\nhealth_timeout = \"1s\"\n", sick.url),
    );
    env.set_version("6.0");
    let (_, artifact) = env.build();
    let out = env
        .hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has(&format!(
            "switched back to `{v4}`, but `{v4}` does not answer health"
        ))
        .run();
    drop(out);
    assert_eq!(env.live(), Some(v4.clone()));
    let row = last_row(&env, "deploy");
    assert_eq!(row["outcome"], "rolled-back", "{row}");
    assert!(
        row["failure"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("`{v4}` does not answer health")),
        "{row}"
    );
}

// A health check against a dead port printed the client's jargon: "client
// error (Connect): tcp connect error: Connection refused (os error 111)".
#[test]
fn health_check_on_dead_port_printed_client_jargon() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let env = Env::new();
    env.deploy_version("1.0");
    host_settings(
        &env,
        &format!("health = \"http://127.0.0.1:{port}/healthz\"\nhealth_timeout = \"1s\"\n"),
    );
    env.set_version("2.0");
    let (_, artifact) = env.build();
    let out = env.hoist().arg("deploy").arg(&artifact).code(1).run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "nothing listens on 127.0.0.1:{port} (connection refused)"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("os error 111"), "{stderr}");
}

// Redeploying a release that fails `verify` was recorded `failed`, while
// `rollback` for the same cause is `refused`.
#[test]
fn redeploy_of_damaged_release_recorded_failed() {
    let env = Env::new();
    let (v1, artifact) = env.build();
    env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
    env.deploy_version("2.0");
    let tampered = env.site().join("releases").join(&v1).join("index.html");
    std::fs::write(&tampered, "changed by hand\n").unwrap();
    env.hoist().arg("deploy").arg(&artifact).code(1).run();
    let row = last_row(&env, "deploy");
    assert_eq!(row["to"], v1.as_str(), "{row}");
    assert_eq!(row["outcome"], "refused", "{row}");
}

// A rollback refused because the lock was held was recorded with `to` = `-`.
#[test]
fn rollback_refused_by_lock_lost_its_target() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0");
    env.deploy_version("2.0");
    let lock_path = env.site().join("deploy.lock");
    let holder = serde_json::json!({"user": "alice", "host": "web1", "pid": 4242, "command": "deploy x", "since": "2026-11-22T10:00:00Z"});
    std::fs::write(&lock_path, holder.to_string()).unwrap();
    let flock = util::held_lock::HeldLock::hold(&lock_path);
    env.hoist()
        .arg("rollback")
        .code(1)
        .stderr_has("locked by `alice`")
        .run();
    flock.release();
    let row = last_row(&env, "rollback");
    assert_eq!(row["outcome"], "refused", "{row}");
    assert_eq!(row["to"], v1.as_str(), "{row}");
}

// `db migrate` failing to open its database was not recorded at all, and
// the db rows that were recorded all said 0 ms.
#[test]
fn failed_db_migrate_not_recorded() {
    let env = Env::new();
    env.deploy_version("1.0");
    host_settings(&env, "[database]\nurl = \"sqlite:///dev/null/app.db\"\n");
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.hoist()
        .args(["db", "migrate", "--migrations", "migrations"])
        .code(1)
        .run();
    let row = last_row(&env, "db-migrate");
    assert_eq!(row["outcome"], "failed", "{row}");
    assert!(row["failure"].is_string(), "{row}");
    let started: jiff::Timestamp = row["started_at"].as_str().unwrap().parse().unwrap();
    let finished: jiff::Timestamp = row["finished_at"].as_str().unwrap().parse().unwrap();
    assert!(finished > started, "a real duration: {row}");
}

// `status --json` gave `last_event` without its `failure`, and an ok
// deploy's `detail` was null although the docs promise a summary.
#[test]
fn status_last_event_lacked_failure_and_deploy_detail_was_null() {
    let env = Env::new();
    env.deploy_version("1.0");
    let row = last_row(&env, "deploy");
    let detail = row["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("files written"), "{row}");
    let status = env.status();
    let last = &status["last_event"];
    assert!(last.get("failure").is_some(), "{status}");
    assert!(last["failure"].is_null(), "{status}");
}

// A rollback to the live release (nothing to do) printed `previous:` as the
// live release itself.
#[test]
fn noop_rollback_printed_live_as_previous() {
    let env = Env::new();
    env.deploy_version("1.0");
    let v2 = env.deploy_version("2.0");
    let out = env.hoist().args(["rollback", "--to", &v2]).run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("previous"), "{stdout}");
    assert!(stdout.contains("already live"), "{stdout}");
}

// `rollback` from 3.0 to 2.0 printed `previous: 3.0`, while `status`
// named 1.0 as previous, where a second rollback goes.
#[test]
fn rollback_printed_the_release_it_left_as_previous() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0");
    env.deploy_version("2.0");
    let v3 = env.deploy_version("3.0");
    let out = env.hoist().arg("rollback").run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|line| line.trim_start().strip_prefix(&format!("{name}: ")))
            .map(str::to_owned)
    };
    assert_eq!(field(&stdout, "from"), Some(v3), "{stdout}");
    let status = env.hoist().arg("status").run();
    let status = String::from_utf8_lossy(&status.stdout);
    let previous = field(&status, "previous").unwrap_or_default();
    assert!(previous.starts_with(&v1), "{status}");
    assert_eq!(field(&stdout, "previous"), None, "{stdout}");
}

// `hoist restart` with neither `restart` nor `health` configured (and no
// agent) said "health checked" though it ran and checked nothing.
#[test]
fn restart_with_nothing_configured_said_health_checked() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0");
    env.hoist()
        .arg("restart")
        .code(1)
        .stderr_has("nothing to restart")
        .stderr_has("[deploy] restart")
        .run();
    let row = last_row(&env, "restart");
    assert_eq!(row["outcome"], "refused", "{row}");
    assert_eq!(row["to"], v1.as_str(), "{row}");
}

// After `rollback --with-db`, `status` said "previous: -" as if nothing
// had been live before.
#[test]
fn status_after_rollback_with_db_said_no_previous() {
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.write("migrations/0001_a.down.sql", "DROP TABLE a;\n");
    env.deploy_version("1.0");
    env.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
    env.write("migrations/0002_b.down.sql", "DROP TABLE b;\n");
    let v2 = env.deploy_version("2.0");
    env.hoist().args(["rollback", "--with-db"]).run();
    let out = env.hoist().arg("status").run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("previous"))
        .unwrap_or_default();
    assert!(
        line.contains(&format!("`hoist rollback --to {v2}`")),
        "{stdout}"
    );
}

// `promote` printed "starting" for a candidate the agent already ran.
#[test]
fn promote_said_starting_for_running_candidate() {
    use util::agent_process::{agent_config, free_port, AgentProcess};
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    env.deploy_version("1");
    let _agent = AgentProcess::start(&env);
    env.set_version("2");
    let (v2, artifact) = env.build();
    env.hoist()
        .args(["deploy", "-q", "--hold"])
        .arg(&artifact)
        .run();
    let out = env.hoist().arg("promote").run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("starting"), "{stderr}");
    assert!(stderr.contains("running candidate"), "{stderr}");
    assert_eq!(env.live(), Some(v2));
}

// The same on PostgreSQL: `recover` after a deploy killed at `switch` left
// its migration applied under the older code.
#[test]
fn recover_left_postgres_migration_applied_under_older_code() {
    let postgres = hoist_testkit::TestPostgres::start();
    let config = format!(
        "{}[database]\nurl = \"{}\"\nlock_timeout = \"5s\"\n",
        util::DEFAULT_CONFIG,
        postgres.url
    );
    let env = Env::with_config(&config);
    env.write(
        "migrations/0001_items.up.sql",
        "CREATE TABLE items (id BIGINT PRIMARY KEY);\n",
    );
    let v1 = env.deploy_version("0.940");
    postgres
        .client()
        .batch_execute("INSERT INTO items VALUES (1)")
        .unwrap();
    env.write(
        "migrations/0002_title.up.sql",
        "ALTER TABLE items ADD COLUMN title TEXT;\n",
    );
    env.write(
        "migrations/0002_title.down.sql",
        "ALTER TABLE items DROP COLUMN title;\n",
    );
    env.set_version("0.941");
    let (_, artifact) = env.build();
    env.kill_at(&["deploy", artifact.to_str().unwrap()], "switch");
    env.hoist().args(["recover", "-q"]).run();
    assert_eq!(env.live(), Some(v1));
    assert_eq!(env.applied(), ["0001_items"]);
    let columns = postgres
        .client()
        .query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'items'",
            &[],
        )
        .unwrap();
    assert_eq!(columns.len(), 1, "the column 0002 added is gone");
    let rows = postgres
        .client()
        .query("SELECT id FROM items", &[])
        .unwrap();
    assert_eq!(rows.len(), 1, "the row stays");
}

// `rollback --to` a newer release after a `rollback --with-db` put its code
// live on a schema missing its migrations, and said nothing.
#[test]
fn rollback_to_newer_release_skipped_its_migrations() {
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.write("migrations/0001_a.down.sql", "DROP TABLE a;\n");
    let v1 = env.deploy_version("0.940");
    env.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
    env.write("migrations/0002_b.down.sql", "DROP TABLE b;\n");
    let v2 = env.deploy_version("0.942");
    env.hoist().args(["rollback", "--with-db"]).run();
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
    assert_eq!(env.applied(), ["0001_a"]);
    env.hoist().args(["rollback", "--to", &v2]).run();
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));
    assert_eq!(env.applied(), ["0001_a", "0002_b"], "v2's schema again");
    let row = last_row(&env, "rollback");
    assert_eq!(row["migrations"], serde_json::json!(["0002_b"]), "{row}");
}

// A deploy switched back after its `pre` migrations ran left them applied
// under the older code and said nothing of it.
#[test]
fn switched_back_deploy_kept_its_migrations_silently() {
    let config = util::sqlite_config("").replace(
        "keep_releases = 3\n",
        "keep_releases = 3\nrestart = \"test ! -f broken\"\n",
    );
    let env = Env::with_config(&config);
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    let v1 = env.deploy_version("1.0");
    env.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
    env.write("migrations/0002_b.down.sql", "DROP TABLE b;\n");
    env.write("broken", "the restart fails on this release\n");
    env.set_version("2.0");
    let (_, artifact) = env.build();
    let output = env.hoist().arg("deploy").arg(&artifact).code(1).run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
    assert_eq!(env.applied(), ["0001_a", "0002_b"]);
    assert!(
        stderr.contains("stay applied (0002_b)") && stderr.contains("hoist db rollback --to 1"),
        "{stderr}"
    );
}
