//! `hoist db complete --stage` and `hoist db status --stage` over real
//! sshd hosts sharing one real PostgreSQL: the contract is refused while
//! one host still runs the release on the old side (naming the host and
//! the release), and runs once every host is on the new side. A stage
//! deploy whose release brings the next declarative migration settles the
//! open one first the same way: refused, or contracted once before the
//! waves.

mod util;

use hoist_testkit::TestPostgres;
use serde_json::Value;
use util::stage_fixture::{StageFixture, StageOptions};

/// v1's table, with rows.
const USERS: &str = "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL);\n\
                     INSERT INTO users (name) VALUES ('ada'), ('grace');\n";

/// v2's declarative migration: `users.name` becomes `full_name`.
const RENAME: &str = "description = \"users.name becomes full_name\"\n\n\
                      [[op]]\ntype = \"rename_column\"\ntable = \"users\"\n\
                      from = \"name\"\nto = \"full_name\"\n";

/// v3's declarative migration, the next one: `users.email`.
const EMAIL: &str = "[[op]]\ntype = \"add_column\"\ntable = \"users\"\n\
                     column = \"email\"\nsql_type = \"text\"\n";

/// Two hosts, web1 and web2, in one wave each, with no balancer; every
/// host's site uses one fresh database (its host settings' `[database]`).
fn two_hosts_one_database() -> (TestPostgres, StageFixture) {
    let postgres = TestPostgres::start();
    let stage = StageFixture::start(
        &["web1", "web2"],
        StageOptions {
            balancer: false,
            waves: "[1, \"100%\"]",
            ..StageOptions::default()
        },
    );
    for name in ["web1", "web2"] {
        let path = stage.fleet.host(name).dir().join("site/site.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!("[database]\nurl = \"{}\"\n", postgres.url));
        std::fs::write(&path, text).unwrap();
    }
    (postgres, stage)
}

/// The host row of `name` in a stage report.
fn host<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|host| host["host"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {report}"))
}

#[test]
fn stage_complete_is_refused_while_a_host_runs_the_old_release() {
    let (postgres, stage) = two_hosts_one_database();
    stage.env.write("migrations/0001_users.up.sql", USERS);
    let (v1, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);
    stage.assert_live(&["web1", "web2"], &v1);

    // v2 (the rename) on web1 only: a stage of its own.
    stage.split_stage(&["web1", "web2"], "canary", &["web1"]);
    stage.env.write("migrations/0002_full_name.toml", RENAME);
    let (v2, artifact) = stage.build("v2", false);
    stage
        .hoist()
        .args(["deploy", "--stage", "canary"])
        .arg(&artifact)
        .run();
    stage.assert_live(&["web1"], &v2);
    stage.assert_live(&["web2"], &v1);

    let status = stage
        .hoist()
        .args(["db", "status", "--stage", "production", "--json"])
        .run_json();
    for (name, release, side) in [("web1", &v2, "new"), ("web2", &v1, "old")] {
        let detail = &host(&status, name)["detail"];
        assert_eq!(
            detail["expansion"]["open"]["name"], "0002_full_name",
            "{status}"
        );
        let serving = &detail["expansion"]["serving"][0];
        assert_eq!(serving["release"], release.as_str(), "{name}: {status}");
        assert_eq!(serving["side"], side, "{name}: {status}");
    }

    let refused = stage
        .hoist()
        .args(["db", "complete", "--stage", "production", "--json"])
        .code(1)
        .run_json();
    let error = &refused["error"];
    assert_eq!(error["kind"], "contract-refused", "{refused}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("`web2` runs `{v1}` (current)")) && !message.contains("web1"),
        "names the host on the old side and its release: {message}"
    );
    assert_eq!(
        postgres.columns("users"),
        ["id", "name"],
        "nothing was contracted"
    );

    // v3 brings the next declarative migration: it needs 0002 contracted,
    // which web2 (on v1) forbids. Refused before any host switched.
    stage.env.write("migrations/0003_email.toml", EMAIL);
    let (_, v3_artifact) = stage.build("v3", false);
    let refused = stage.deploy_refused(&v3_artifact);
    let error = &refused["error"];
    assert_eq!(error["kind"], "contract-refused", "{refused}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("0003_email")
            && message.contains(&format!("`web2` runs `{v1}` (current)")),
        "{message}"
    );
    stage.assert_live(&["web1"], &v2);
    stage.assert_live(&["web2"], &v1);
    assert_eq!(
        postgres.columns("users"),
        ["id", "name"],
        "nothing was contracted"
    );

    // web2 on v2 too: the stage may contract, and does it once.
    std::fs::remove_file(stage.env.src().join("migrations/0003_email.toml")).unwrap();
    stage.deploy(&artifact);
    stage.assert_live(&["web1", "web2"], &v2);
    let completed = stage
        .hoist()
        .args(["db", "complete", "--stage", "production", "--json"])
        .run_json();
    assert_eq!(
        host(&completed, "web1")["outcome"],
        "completed",
        "{completed}"
    );
    assert_eq!(
        host(&completed, "web2")["outcome"],
        "checked",
        "{completed}"
    );
    assert_eq!(postgres.columns("users"), ["id", "full_name"]);
    assert_eq!(
        contracts(&stage, "web1"),
        1,
        "web1's ledger has the contract"
    );
    assert_eq!(contracts(&stage, "web2"), 0, "run once, on the first host");

    db_status_of_a_stage_failed_outright_on_one_unreachable_host(&stage);
}

// Broke: `hoist db status --stage` connected to every host first, all or
// nothing, so one host down hid what every other host had open.
fn db_status_of_a_stage_failed_outright_on_one_unreachable_host(stage: &StageFixture) {
    stage.fleet.host("web2").stop_sshd();
    let partial = stage
        .hoist()
        .args(["db", "status", "--stage", "production", "--json"])
        .code(1)
        .run_json();
    assert_eq!(partial["error"]["kind"], "fleet-partial", "{partial}");
    let partial = &partial["result"];
    let web1 = host(partial, "web1");
    assert_eq!(web1["outcome"], "done", "{partial}");
    assert!(web1["detail"]["applied"].is_array(), "{partial}");
    let web2 = host(partial, "web2");
    assert_eq!(web2["outcome"], "failed", "{partial}");
    assert!(
        web2["problem"].as_str().unwrap().contains("web2"),
        "{partial}"
    );
}

/// The host's `db-complete` rows that went through.
fn contracts(stage: &StageFixture, name: &str) -> usize {
    stage
        .history(name)
        .iter()
        .filter(|row| row["op"] == "db-complete" && row["outcome"] == "ok")
        .count()
}

#[test]
fn stage_deploy_of_the_next_declarative_migration_contracts_the_open_one_first() {
    let (postgres, stage) = two_hosts_one_database();
    stage.env.write("migrations/0001_users.up.sql", USERS);
    let (_, artifact) = stage.build("v1", false);
    stage.deploy(&artifact);
    stage.env.write("migrations/0002_full_name.toml", RENAME);
    let (v2, artifact) = stage.build("v2", false);
    stage.deploy(&artifact);
    stage.assert_live(&["web1", "web2"], &v2);
    assert_eq!(
        postgres.columns("users"),
        ["id", "name"],
        "0002 is open, not contracted"
    );

    // Every host runs v2 (0002's new side): the stage contracts 0002 once,
    // then each host expands 0003 (`--no-contract`: the stage decided).
    stage.env.write("migrations/0003_email.toml", EMAIL);
    let (v3, artifact) = stage.build("v3", false);
    stage.deploy(&artifact);
    stage.assert_live(&["web1", "web2"], &v3);
    let now = postgres.columns("users");
    assert_eq!(&now[..2], ["id", "full_name"], "0002 contracted: {now:?}");
    let status = stage.on_host("web2", &["db", "status"]);
    assert_eq!(
        status["expansion"]["open"]["name"], "0003_email",
        "{status}"
    );
    assert_eq!(
        contracts(&stage, "web1") + contracts(&stage, "web2"),
        1,
        "contracted once"
    );

    db_abort_of_a_stage_checked_one_host_only(&stage, &postgres, &v2);
}

// Broke: `hoist db abort` had no `--stage`: run on one host, it checked
// only that host's releases, and dropped the view schema another host's
// new-side release was serving from.
fn db_abort_of_a_stage_checked_one_host_only(
    stage: &StageFixture,
    postgres: &TestPostgres,
    v2: &str,
) {
    let refused = stage
        .hoist()
        .args(["db", "abort", "--stage", "production", "--json"])
        .code(1)
        .run_json();
    let error = &refused["error"];
    assert_eq!(error["kind"], "abort-refused", "{refused}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("`web1` runs") && message.contains("`web2` runs"),
        "names every host on the new side: {message}"
    );
    assert!(postgres
        .columns("users")
        .contains(&"_hoist_new_email".to_owned()));

    // Both hosts back on v2 (0003's old side): the abort runs, once.
    stage
        .hoist()
        .args(["rollback", "--stage", "production", "--to", v2])
        .run();
    stage.assert_live(&["web1", "web2"], v2);
    let aborted = stage
        .hoist()
        .args(["db", "abort", "--stage", "production", "--json"])
        .run_json();
    assert_eq!(host(&aborted, "web1")["outcome"], "aborted", "{aborted}");
    assert_eq!(host(&aborted, "web2")["outcome"], "checked", "{aborted}");
    assert_eq!(postgres.columns("users"), ["id", "full_name"]);
}
