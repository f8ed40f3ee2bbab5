//! The ledger is exact: every operation, including refused and failed
//! ones, is in `hoist history --json` with the release it started from,
//! the one it aimed at, and the candidate of a hold, promote or abort.

mod util;

use serde_json::Value;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

/// `hoist history --json`, oldest first.
fn history(env: &Env) -> Vec<Value> {
    let json = env
        .hoist()
        .args(["history", "--json", "-n", "1000"])
        .run_json();
    let mut rows = json.as_array().unwrap().clone();
    rows.reverse();
    rows
}

/// A row as (op, outcome, from, to, candidate), with release ids replaced
/// by their names in `names` (`-` for none).
fn summary(row: &Value, names: &[(&str, &str)]) -> [String; 5] {
    let name = |field: &str| -> String {
        let Some(id) = row[field].as_str() else {
            return "-".to_owned();
        };
        names
            .iter()
            .find(|(_, known)| *known == id)
            .map_or_else(|| id.to_owned(), |(name, _)| (*name).to_owned())
    };
    [
        row["op"].as_str().unwrap_or("?").to_owned(),
        row["outcome"].as_str().unwrap_or("?").to_owned(),
        name("from"),
        name("to"),
        name("candidate"),
    ]
}

/// Builds version `version` (with a marker file shipped if given); returns (id, artifact).
fn build(env: &Env, version: &str, marker: Option<&str>) -> (String, std::path::PathBuf) {
    env.set_version(version);
    if let Some(marker) = marker {
        env.write(marker, "");
    }
    let built = env.build();
    if let Some(marker) = marker {
        std::fs::remove_file(env.src().join(marker)).unwrap();
    }
    built
}

// A failed redeploy aimed at v1.1 was recorded as "deploy failed 1.2 -> 1.2": `to` named the release live after, not the one it tried.
#[test]
fn failed_redeploy_recorded_wrong_target() {
    let env = Env::with_config(&format!(
        "{}restart = \"test ! -f \\\"$HOIST_ROOT/broken\\\"\"\n",
        util::DEFAULT_CONFIG
    ));
    let (v11, artifact11) = build(&env, "1.1", None);
    env.hoist().args(["deploy", "-q"]).arg(&artifact11).run();
    let v12 = env.deploy_version("1.2");
    // The restart fails from now on: the redeploy of 1.1 switches back.
    std::fs::write(env.site().join("broken"), "").unwrap();
    env.hoist()
        .args(["deploy", "-q"])
        .arg(&artifact11)
        .code(1)
        .run();
    // And a new release whose checks fail never switches at all.
    std::fs::remove_file(env.site().join("broken")).unwrap();
    std::fs::remove_file(env.src().join("index.html")).unwrap();
    let (v13, artifact13) = build(&env, "1.3", None);
    env.hoist()
        .args(["deploy", "-q"])
        .arg(&artifact13)
        .code(1)
        .run();
    assert_eq!(env.live().as_deref(), Some(v12.as_str()));

    let names = [
        ("1.1", v11.as_str()),
        ("1.2", v12.as_str()),
        ("1.3", v13.as_str()),
    ];
    let rows: Vec<[String; 5]> = history(&env).iter().map(|r| summary(r, &names)).collect();
    assert_eq!(
        rows,
        [
            ["deploy", "ok", "-", "1.1", "-"],
            ["deploy", "ok", "1.1", "1.2", "-"],
            ["deploy", "rolled-back", "1.2", "1.1", "-"],
            ["deploy", "failed", "1.2", "1.3", "-"],
        ]
        .map(|row| row.map(str::to_owned))
    );
    let failed = &history(&env)[3];
    assert!(
        failed["failure"]
            .as_str()
            .is_some_and(|failure| failure.contains("test -f index.html")),
        "{failed}"
    );
}

// A refused `hoist rollback` (nothing to go back to, an unknown release, a release that fails `verify`) was not recorded at all.
#[test]
fn refused_rollback_not_recorded() {
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    env.hoist()
        .args(["rollback", "--reason", "first try"])
        .code(1)
        .run();
    let v2 = env.deploy_version("2.0.0");
    env.hoist()
        .args(["rollback", "--to", "20990101T000000Z-9-abcdef0"])
        .code(1)
        .run();
    // v1 no longer matches its manifest.
    let tampered = env.site().join("releases").join(&v1).join("index.html");
    std::fs::write(&tampered, "changed by hand\n").unwrap();
    env.hoist().arg("rollback").code(1).run();
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));

    let names = [("v1", v1.as_str()), ("v2", v2.as_str())];
    let rows = history(&env);
    let summaries: Vec<[String; 5]> = rows.iter().map(|r| summary(r, &names)).collect();
    assert_eq!(
        summaries,
        [
            ["deploy", "ok", "-", "v1", "-"],
            ["rollback", "refused", "v1", "-", "-"],
            ["deploy", "ok", "v1", "v2", "-"],
            [
                "rollback",
                "refused",
                "v2",
                "20990101T000000Z-9-abcdef0",
                "-"
            ],
            ["rollback", "refused", "v2", "v1", "-"],
        ]
        .map(|row| row.map(str::to_owned))
    );
    assert_eq!(rows[1]["reason"], "first try", "{}", rows[1]);
    for refused in [&rows[1], &rows[3], &rows[4]] {
        assert!(refused["failure"].is_string(), "{refused}");
    }
}

// A hold lost its target (recorded `v1 -> v1`, no candidate), `promote` printed "rolled back", and `deploy --hold` printed the candidate as "live:".
#[test]
fn hold_lost_its_target() {
    let port = free_port();
    let env = Env::with_config(&agent_config(port, ""));
    let v1 = env.deploy_version("1");
    let _agent = AgentProcess::start(&env);
    let (v2, artifact) = build(&env, "2", None);

    let held = env
        .hoist()
        .args(["deploy", "--hold", "--json"])
        .arg(&artifact)
        .run_json();
    assert_eq!(
        (&held["candidate"], &held["live"]),
        (&v2.as_str().into(), &v1.as_str().into()),
        "{held}"
    );
    let (v3, artifact3) = build(&env, "3", None);
    let said = env.hoist().args(["abort"]).run();
    assert!(String::from_utf8_lossy(&said.stderr).contains(&v2));
    let printed = env
        .hoist()
        .args(["deploy", "--hold", "-q"])
        .arg(&artifact3)
        .run();
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    let line = |key: &str| -> String {
        printed
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{key}:")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("candidate").ends_with(&v3), "{printed}");
    assert!(line("live").ends_with(&v1), "{printed}");

    let promoted = env.hoist().args(["promote"]).run();
    let promoted = String::from_utf8_lossy(&promoted.stdout).into_owned();
    assert!(!promoted.contains("rolled back"), "{promoted}");
    assert!(promoted.contains(&format!("promoted: {v3}")), "{promoted}");
    assert_eq!(env.live().as_deref(), Some(v3.as_str()));

    let names = [
        ("v1", v1.as_str()),
        ("v2", v2.as_str()),
        ("v3", v3.as_str()),
    ];
    let rows: Vec<[String; 5]> = history(&env).iter().map(|r| summary(r, &names)).collect();
    assert_eq!(
        rows,
        [
            ["deploy", "ok", "-", "v1", "-"],
            ["hold", "ok", "v1", "v1", "v2"],
            ["abort", "ok", "v1", "v1", "v2"],
            ["hold", "ok", "v1", "v1", "v3"],
            ["promote", "ok", "v1", "v3", "v3"],
        ]
        .map(|row| row.map(str::to_owned))
    );
    let human = env.hoist().arg("history").run();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains(&format!("candidate {v2}")), "{human}");
}

/// `[database]` on SQLite, the example app reloading data on HUP.
fn lifecycle_env(port: u16) -> Env {
    let env = Env::with_config(&agent_config(
        port,
        "[database]\nurl = \"sqlite://shared/app.db\"\n[data]\nreload = \"HUP\"",
    ));
    env.write(
        "migrations/0001_products.up.sql",
        "CREATE TABLE products (id INTEGER PRIMARY KEY);\n",
    );
    env.write(
        "migrations/0001_products.down.sql",
        "DROP TABLE products;\n",
    );
    env
}

/// Loads a data version whose `version.txt` says `text`; returns its id.
fn load(env: &Env, text: &str, label: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("version.txt"), text).unwrap();
    let json = env
        .hoist()
        .args(["data", "load", "--json", "--label", label])
        .arg(dir.path())
        .run_json();
    json["version"].as_str().unwrap().to_owned()
}

#[test]
fn history_walks_whole_lifecycle() {
    let port = free_port();
    let env = lifecycle_env(port);
    let (v1, artifact1) = build(&env, "1", None);
    env.hoist().args(["deploy", "-q"]).arg(&artifact1).run();
    let _agent = AgentProcess::start(&env);
    let v2 = env.deploy_version("2");
    // A release that dies at start: the agent never switches to it.
    let (bad, artifact) = build(&env, "3-bad", Some("crash-at-start"));
    env.hoist()
        .args(["deploy", "-q"])
        .arg(&artifact)
        .code(1)
        .run();
    // It failed, so a rollback to it is refused.
    env.hoist()
        .args(["rollback", "-q", "--to", &bad])
        .code(1)
        .run();
    env.hoist().args(["rollback", "-q"]).run();
    let (v4, artifact) = build(&env, "4", None);
    env.hoist()
        .args(["deploy", "-q", "--hold"])
        .arg(&artifact)
        .run();
    env.hoist().args(["promote", "-q"]).run();
    let (v5, artifact) = build(&env, "5", None);
    env.hoist()
        .args(["deploy", "-q", "--hold"])
        .arg(&artifact)
        .run();
    env.hoist().args(["abort", "-q"]).run();
    // Nothing held any more: an abort has nothing to do, a promote is refused.
    env.hoist().args(["abort", "-q"]).run();
    env.hoist().args(["promote", "-q"]).code(1).run();
    env.hoist().args(["restart", "-q"]).run();
    env.hoist().args(["maint", "on", "-q"]).run();
    env.hoist().args(["maint", "off", "-q"]).run();
    env.hoist().args(["pause", "-q", "--max", "5s"]).run();
    env.hoist().args(["resume", "-q"]).run();
    env.hoist().args(["db", "rollback", "-q"]).run();
    env.hoist().args(["db", "migrate", "-q"]).run();
    let d1 = load(&env, "data v1\n", "first");
    env.hoist().args(["data", "roll", "-q"]).run();
    let d2 = load(&env, "data v2\n", "second");
    env.hoist().args(["data", "roll", "-q"]).run();
    env.hoist().args(["data", "revert", "-q"]).run();
    env.hoist().args(["prune", "-q", "--keep", "3"]).run();
    // Killed while unpacking, then recovered: interrupted, aimed at v6.
    let (v6, artifact) = build(&env, "6", None);
    env.kill_at(&["deploy", "-q", artifact.to_str().unwrap()], "unpack");
    env.hoist().args(["recover", "-q"]).run();
    assert_eq!(env.live().as_deref(), Some(v4.as_str()));

    let names = [
        ("v1", v1.as_str()),
        ("v2", v2.as_str()),
        ("bad", bad.as_str()),
        ("v4", v4.as_str()),
        ("v5", v5.as_str()),
        ("v6", v6.as_str()),
        ("d1", d1.as_str()),
        ("d2", d2.as_str()),
    ];
    let rows = history(&env);
    let summaries: Vec<[String; 5]> = rows.iter().map(|r| summary(r, &names)).collect();
    let expected = [
        ["deploy", "ok", "-", "v1", "-"],
        // The deploy's own migrations, while nothing was live yet.
        ["db-migrate", "ok", "-", "-", "-"],
        ["deploy", "ok", "v1", "v2", "-"],
        ["deploy", "failed", "v2", "bad", "-"],
        ["rollback", "refused", "v2", "bad", "-"],
        ["rollback", "ok", "v2", "v1", "-"],
        ["hold", "ok", "v1", "v1", "v4"],
        ["promote", "ok", "v1", "v4", "v4"],
        ["hold", "ok", "v4", "v4", "v5"],
        ["abort", "ok", "v4", "v4", "v5"],
        ["abort", "noop", "v4", "v4", "-"],
        ["promote", "refused", "v4", "-", "-"],
        ["restart", "ok", "v4", "v4", "-"],
        ["maint-on", "ok", "v4", "v4", "-"],
        ["maint-off", "ok", "v4", "v4", "-"],
        ["pause", "ok", "v4", "v4", "-"],
        ["resume", "ok", "v4", "v4", "-"],
        ["db-rollback", "ok", "v4", "v4", "-"],
        ["db-migrate", "ok", "v4", "v4", "-"],
        ["data-load", "ok", "-", "-", "-"],
        ["data-roll", "ok", "-", "d1", "-"],
        ["data-load", "ok", "d1", "d1", "-"],
        ["data-roll", "ok", "d1", "d2", "-"],
        ["data-revert", "ok", "d2", "d1", "-"],
        ["prune", "ok", "v4", "v4", "-"],
        ["deploy", "interrupted", "v4", "v6", "-"],
    ]
    .map(|row| row.map(str::to_owned));
    assert_eq!(summaries, expected, "{rows:#?}");

    // Migrations are named where they ran; failures say why; who and when are there.
    let migrations = |index: usize| rows[index]["migrations"].clone();
    for index in [0, 1, 17, 18] {
        assert_eq!(migrations(index), serde_json::json!(["0001_products"]));
    }
    assert!(rows[3]["failure"].is_string(), "{}", rows[3]);
    assert!(rows[5]["failure"].is_null(), "{}", rows[5]);
    for row in &rows {
        for field in ["op_id", "user", "host", "started_at", "finished_at"] {
            assert!(row[field].is_string(), "{field} missing: {row}");
        }
    }
    // `last` is the last operation that changed what runs, not a db or data event.
    let status = env.status();
    assert_eq!(
        (&status["last_event"]["op"], &status["last_event"]["to"]),
        (&"restart".into(), &v4.as_str().into()),
        "{status}"
    );
    assert_eq!(status["data_label"], "first", "{status}");
}
