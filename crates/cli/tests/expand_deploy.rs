//! Expand and contract tied to the switch, through the real binary on a
//! real PostgreSQL: a deploy expands the new release's declarative
//! migration before it starts and gives its processes their view schema
//! (the old release keeps its shape), a rollback before contract is a
//! route swap, a new expansion contracts the open one only when no old
//! release serves, and `kill -9` at every expansion step is recovered.
//!
//! The app is tiny: its start (the agent's `[process] command`, or the
//! external `restart`) writes the `HOIST_DB_SCHEMA` and `PGOPTIONS` it got
//! to `shared/env-<release>`, and reads its own column with `psql` under
//! them to `shared/seen-<release>`, as a libpq app would.

mod util;

use hoist_testkit::TestPostgres;
use std::path::PathBuf;
use std::process::Command;
use util::agent_process::{agent_config_with, free_port, AgentProcess};
use util::{Env, BIN};

/// `0002`: `users.name` becomes `full_name` (v2 reads `full_name`).
const RENAME: &str = "description = \"name becomes full_name\"\n\n[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n";

/// `0003`: a NOT NULL `email`, backfilled from the name, which the
/// release before calls `name_column` (v3 reads `email`).
fn add_email(name_column: &str) -> String {
    format!("[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"email\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"{name_column} || '@example.org'\"\n")
}

/// The shop's versions: the column each reads, and the migration it adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
    V3,
}

impl Version {
    fn label(self) -> &'static str {
        match self {
            Version::V1 => "1",
            Version::V2 => "2",
            Version::V3 => "3",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Version::V1 => "name",
            Version::V2 => "full_name",
            Version::V3 => "email",
        }
    }
}

/// A site of the tiny app on its own database.
struct Shop {
    env: Env,
    postgres: TestPostgres,
    /// The agent runs `start.sh`, which then serves the example app.
    serves: bool,
}

impl Shop {
    /// External mode: `restart` starts the app (here: records what it got).
    fn external() -> Shop {
        let postgres = TestPostgres::start();
        let config = format!(
            "[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../site\"\nkeep_releases = 10\nrestart = \"sh start.sh\"\n[hooks]\npost_switch = 'printf \"%s|%s\\n\" \"$HOIST_DB_SCHEMA\" \"$PGOPTIONS\" > \"$HOIST_ROOT/shared/hook-$HOIST_RELEASE\"'\n{}",
            database(&postgres.url)
        );
        Shop::with(Env::with_config(&config), postgres, false)
    }

    /// Agent mode on `port`: the agent runs `start.sh`, which then serves
    /// the example app; an old release stays warm for `rollback_window`.
    fn agent(port: u16, rollback_window: &str) -> Shop {
        let postgres = TestPostgres::start();
        let process =
            format!("command = \"sh start.sh\"\nrollback_window = \"{rollback_window}\"\n");
        let config = agent_config_with(port, &process, &database(&postgres.url));
        Shop::with(Env::with_config(&config), postgres, true)
    }

    fn with(env: Env, postgres: TestPostgres, serves: bool) -> Shop {
        env.write(
            "migrations/0001_users.up.sql",
            "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO users (name) VALUES ('ada'), ('bob'), ('cyd');\n",
        );
        env.write("migrations/0001_users.down.sql", "DROP TABLE users;\n");
        Shop {
            env,
            postgres,
            serves,
        }
    }

    /// Writes `version`'s code and migrations and builds it.
    fn build(&self, version: Version) -> (String, PathBuf) {
        self.build_with(version, &[])
    }

    /// [`Shop::build`] with `extra` migration files (name, text) too.
    fn build_with(&self, version: Version, extra: &[(&str, &str)]) -> (String, PathBuf) {
        let migrations = self.env.src().join("migrations");
        for entry in std::fs::read_dir(&migrations).unwrap().flatten() {
            if !entry.file_name().to_string_lossy().starts_with("0001_") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        if version != Version::V1 {
            self.env.write("migrations/0002_rename_name.toml", RENAME);
        }
        if version == Version::V3 {
            self.env
                .write("migrations/0003_add_email.toml", &add_email("full_name"));
        }
        for (name, text) in extra {
            self.env.write(&format!("migrations/{name}"), text);
        }
        let serve = match self.serves {
            true => format!("exec {BIN} example-app\n"),
            false => String::new(),
        };
        self.env.write(
            "start.sh",
            &format!(
                "psql '{}' -Atc 'SELECT {} FROM users ORDER BY id' > \"$HOIST_ROOT/shared/seen-$HOIST_RELEASE\" 2>&1\nprintf '%s|%s\\n' \"$HOIST_DB_SCHEMA\" \"$PGOPTIONS\" > \"$HOIST_ROOT/shared/env-$HOIST_RELEASE\"\n{serve}",
                self.postgres.url,
                version.column()
            ),
        );
        self.env.set_version(version.label());
        self.env.build()
    }

    /// `hoist deploy --json ARTIFACT ARGS`, expecting success.
    fn deploy(&self, artifact: &PathBuf, args: &[&str]) -> serde_json::Value {
        self.env
            .hoist()
            .args(["deploy", "--json"])
            .args(args)
            .arg(artifact)
            .run_json()
    }

    /// `HOIST_DB_SCHEMA|PGOPTIONS` as `release`'s last start got them.
    fn env_of(&self, release: &str) -> String {
        read(&self.env.site().join(format!("shared/env-{release}")))
    }

    /// What `release`'s last start read of its own column.
    fn seen_by(&self, release: &str) -> String {
        read(&self.env.site().join(format!("shared/seen-{release}")))
    }

    /// `psql -Atc SQL` on the database as hoist's own session sees it.
    fn sql(&self, sql: &str) -> String {
        let output = Command::new("psql")
            .args([self.postgres.url.as_str(), "-Atc", sql])
            .output()
            .expect("psql runs (install postgresql-client)");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Every migration's name and phase in the history, and the open expansion.
    fn history(&self) -> String {
        let history =
            self.sql("SELECT string_agg(name || ':' || phase, ',' ORDER BY version) FROM hoist_schema_history");
        let open = match self
            .sql("SELECT to_regclass('public.hoist_expansion') IS NOT NULL")
            .as_str()
        {
            "t" => self
                .sql("SELECT coalesce((SELECT name || ':' || step FROM hoist_expansion), 'none')"),
            _ => "none".to_owned(),
        };
        format!("{history} open={open}")
    }

    /// Empties the database and the site, for a run from the start.
    fn reset(&self) {
        let schemas = self.sql(
            "SELECT coalesce(string_agg(nspname, ','), '') FROM pg_namespace WHERE nspname LIKE 'hoist\\_%'",
        );
        for schema in schemas.split(',').filter(|s| !s.is_empty()) {
            self.sql(&format!("DROP SCHEMA {schema} CASCADE"));
        }
        self.sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        std::fs::remove_dir_all(self.env.site()).unwrap();
    }
}

fn database(url: &str) -> String {
    format!("[database]\nurl = \"{url}\"\nlock_timeout = \"10s\"\nddl_lock_timeout = \"2s\"\nbackfill_batch = 1\nbackfill_pause = \"1ms\"\n")
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .trim()
        .to_owned()
}

/// `HOIST_DB_SCHEMA|PGOPTIONS` for a release with view schema `schema`.
fn with_view(schema: &str) -> String {
    format!("{schema}|-c search_path={schema},public")
}

#[test]
fn expand_gives_the_new_release_its_view_schema_and_rollback_before_contract_is_a_route_swap() {
    let shop = Shop::external();
    let (v1, one) = shop.build(Version::V1);
    let (v2, two) = shop.build(Version::V2);
    let first = shop.deploy(&one, &[]);
    assert!(first["expansion"]["action"] == "base", "{first}");
    assert_eq!(
        shop.env_of(&v1),
        "public|",
        "the old release gets the base schema"
    );

    let deployed = shop.deploy(&two, &[]);
    let expansion = &deployed["expansion"];
    let view = expansion["schema"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            expansion["action"].as_str(),
            expansion["migration"].as_str()
        ),
        (Some("expanded"), Some("0002_rename_name")),
        "{deployed}"
    );
    assert!(view.starts_with("hoist_"), "{deployed}");
    assert_eq!(
        deployed["migrations"],
        serde_json::json!([]),
        "nothing classic ran"
    );
    assert_eq!(shop.env_of(&v2), with_view(&view));
    let hook = read(&shop.env.site().join(format!("shared/hook-{v2}")));
    assert_eq!(hook, with_view(&view), "the post_switch hook gets it too");
    assert_eq!(
        shop.seen_by(&v2),
        "ada\nbob\ncyd",
        "v2 reads full_name through its view"
    );
    assert_eq!(
        shop.sql("SELECT name FROM users WHERE id = 1"),
        "ada",
        "the base keeps the old shape"
    );
    let ledger = shop.env.hoist().args(["history", "--json"]).run_json();
    assert!(
        ledger.to_string().contains("expanded `0002_rename_name`"),
        "the ledger records the expansion: {ledger}"
    );

    let before = (shop.postgres.schema_dump(), shop.history());
    let rolled = shop.env.hoist().args(["rollback", "--json"]).run_json();
    assert_eq!(rolled["release"], v1.as_str(), "{rolled}");
    assert_eq!(
        rolled["predates"],
        serde_json::json!([]),
        "an open expansion is no predated schema: {rolled}"
    );
    assert_eq!(rolled["db_rolled_back"], serde_json::json!([]), "{rolled}");
    assert_eq!(
        (shop.postgres.schema_dump(), shop.history()),
        before,
        "a rollback before contract does no database work"
    );
    assert_eq!(
        shop.env_of(&v1),
        "public|",
        "v1 starts again on the base schema"
    );
    assert_eq!(shop.seen_by(&v1), "ada\nbob\ncyd");

    // And forward again: v2 still has its view schema, nothing runs.
    let forward = shop
        .env
        .hoist()
        .args(["rollback", "--json", "--to", &v2])
        .run_json();
    assert_eq!(forward["release"], v2.as_str(), "{forward}");
    assert_eq!((shop.postgres.schema_dump(), shop.history()), before);
    assert_eq!(shop.env_of(&v2), with_view(&view));
}

#[test]
fn a_new_expansion_contracts_the_open_one_and_rollback_past_a_contract_is_refused() {
    let shop = Shop::external();
    let (v1, one) = shop.build(Version::V1);
    let (_, two) = shop.build(Version::V2);
    let (v3, three) = shop.build(Version::V3);
    shop.deploy(&one, &[]);
    shop.deploy(&two, &[]);

    // A fleet host never contracts on its own.
    shop.env
        .hoist()
        .args(["deploy", "--no-contract"])
        .arg(&three)
        .code(1)
        .stderr_has("`0002_rename_name` is still expanded")
        .stderr_has("--no-contract")
        .stderr_has("hoist db complete")
        .run();
    assert!(
        shop.history().ends_with("open=0002_rename_name:expanded"),
        "{}",
        shop.history()
    );

    // Without it: only v2 serves here (external mode: `current`), which
    // is on the new side, so the contract goes first.
    let deployed = shop.deploy(&three, &[]);
    let expansion = &deployed["expansion"];
    assert_eq!(expansion["completed"], "0002_rename_name", "{deployed}");
    assert_eq!(expansion["migration"], "0003_add_email", "{deployed}");
    let backfilled = &expansion["backfill"][0];
    assert_eq!(
        (backfilled["table"].as_str(), backfilled["done"].as_u64()),
        (Some("users"), Some(3)),
        "{deployed}"
    );
    assert_eq!(
        shop.history(),
        "0001_users:pre,0002_rename_name:contract,0003_add_email:expand open=0003_add_email:expanded"
    );
    let view = expansion["schema"].as_str().unwrap();
    assert_eq!(shop.env_of(&v3), with_view(view));
    assert_eq!(
        shop.seen_by(&v3),
        "ada@example.org\nbob@example.org\ncyd@example.org",
        "v3 reads the backfilled email through its view"
    );

    shop.env
        .hoist()
        .args(["rollback", "--to", &v1])
        .code(1)
        .stderr_has(&format!(
            "`{v1}` predates `0002_rename_name`, which was contracted"
        ))
        .stderr_has("rename_column users.full_name -> name")
        .stderr_has("--force")
        .run();
    assert_eq!(
        shop.env.live().as_deref(),
        Some(v3.as_str()),
        "nothing was switched"
    );
    let forced = shop
        .env
        .hoist()
        .args(["rollback", "--json", "--force", "--to", &v1])
        .run_json();
    assert_eq!(forced["release"], v1.as_str(), "{forced}");
}

#[test]
fn a_declarative_migration_must_be_the_last_and_only_one_a_deploy_brings() {
    let shop = Shop::external();
    let (v1, one) = shop.build(Version::V1);
    shop.deploy(&one, &[]);
    let (_, after) = shop.build_with(
        Version::V2,
        &[(
            "0003_more.up.sql",
            "ALTER TABLE users ADD COLUMN age INT;\n",
        )],
    );
    shop.env
        .hoist()
        .arg("deploy")
        .arg(&after)
        .code(1)
        .stderr_has("`0002_rename_name` is a declarative migration")
        .stderr_has("`0003_more` comes after it")
        .stderr_has("deploy them in separate releases")
        .run();
    let (_, twice) = shop.build(Version::V3);
    shop.env
        .hoist()
        .arg("deploy")
        .arg(&twice)
        .code(1)
        .stderr_has("`0002_rename_name`, `0003_add_email` are all pending declarative migrations")
        .run();
    assert_eq!(shop.env.live().as_deref(), Some(v1.as_str()));
    assert_eq!(shop.history(), "0001_users:pre open=none");
}

#[test]
fn a_declarative_migration_on_sqlite_is_refused_naming_the_file() {
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.write("migrations/0002_b.toml", RENAME);
    let (id, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has(&format!(
            "`migrations/0002_b.toml` in release `{id}` is a declarative migration, which needs PostgreSQL"
        ))
        .run();
    assert_eq!(env.live(), None);
}

/// The journal step and every step of an expansion a deploy can die at.
const EXPAND_KILLS: &[&str] = &[
    "expand",
    "expand-begin",
    "expand-triggers",
    "expand-backfill",
    "expand-constraints",
    "expand-views",
];

#[test]
fn expand_killed_at_every_step_recovers() {
    let shop = Shop::external();
    let (v1, one) = shop.build(Version::V1);
    // v2 here also adds a backfilled column, so the backfill step has work.
    let both = format!("{RENAME}\n{}", add_email("name"));
    let (v2, two) = shop.build_with(Version::V2, &[("0002_rename_name.toml", &both)]);
    for kill in EXPAND_KILLS {
        shop.deploy(&one, &[]);
        shop.env.kill_at(&["deploy", two.to_str().unwrap()], kill);
        assert_eq!(
            shop.env.status()["pending"]["step"],
            "expand",
            "killed at `{kill}`"
        );
        let recovered = shop.env.hoist().args(["recover", "--json"]).run_json();
        assert_eq!(recovered["action"], "cleaned-up", "{kill}: {recovered}");
        assert_eq!(
            recovered["live"],
            v1.as_str(),
            "{kill}: the live release stays"
        );
        assert_eq!(
            recovered["expansion"]["migration"], "0002_rename_name",
            "{kill}: recover finishes the expansion: {recovered}"
        );
        assert!(
            shop.history().ends_with("open=0002_rename_name:expanded"),
            "{kill}: {}",
            shop.history()
        );
        assert_eq!(
            shop.sql("SELECT string_agg(name, ',' ORDER BY id) FROM users"),
            "ada,bob,cyd"
        );

        let deployed = shop.deploy(&two, &[]);
        assert_eq!(deployed["release"], v2.as_str(), "{kill}: {deployed}");
        assert_eq!(
            deployed["expansion"]["action"], "joined",
            "{kill}: {deployed}"
        );
        let view = deployed["expansion"]["schema"].as_str().unwrap().to_owned();
        assert_eq!(shop.env_of(&v2), with_view(&view), "{kill}");
        assert_eq!(shop.seen_by(&v2), "ada\nbob\ncyd", "{kill}");
        shop.reset();
    }
}

#[test]
fn contract_killed_during_a_deploy_recovers() {
    let shop = Shop::external();
    let (_, one) = shop.build(Version::V1);
    let (v2, two) = shop.build(Version::V2);
    let (v3, three) = shop.build(Version::V3);
    for kill in ["complete", "expand-completing"] {
        shop.deploy(&one, &[]);
        shop.deploy(&two, &[]);
        shop.env.kill_at(&["deploy", three.to_str().unwrap()], kill);
        assert_eq!(shop.env.status()["pending"]["step"], "complete", "{kill}");
        let recovered = shop.env.hoist().args(["recover", "--json"]).run_json();
        assert_eq!(recovered["live"], v2.as_str(), "{kill}: {recovered}");
        assert_eq!(
            recovered["expansion"]["completed"], "0002_rename_name",
            "{kill}: {recovered}"
        );
        assert_eq!(
            shop.history(),
            "0001_users:pre,0002_rename_name:contract open=none",
            "{kill}"
        );
        assert_eq!(
            shop.env_of(&v2),
            with_view(&hoist_db_view(&v2)),
            "{kill}: v2's last start"
        );
        let deployed = shop.deploy(&three, &[]);
        assert_eq!(deployed["release"], v3.as_str(), "{kill}");
        assert!(
            deployed["expansion"]["completed"].is_null(),
            "{kill}: {deployed}"
        );
        assert_eq!(
            deployed["expansion"]["migration"], "0003_add_email",
            "{kill}"
        );
        shop.reset();
    }
}

/// The view schema hoist names `release`'s.
fn hoist_db_view(release: &str) -> String {
    hoist_db::expand::view_schema(release)
}

#[test]
fn rollback_with_db_before_contract_stops_the_new_release_and_removes_the_expansion() {
    let port = free_port();
    let shop = Shop::agent(port, "10m");
    let (v1, one) = shop.build(Version::V1);
    let (v2, two) = shop.build(Version::V2);
    shop.deploy(&one, &[]);
    let before = (shop.postgres.schema_dump(), shop.history());
    let _agent = AgentProcess::start(&shop.env);
    assert_eq!(
        shop.env_of(&v1),
        "public|",
        "the agent starts v1 on the base schema"
    );

    let deployed = shop.deploy(&two, &[]);
    let view = deployed["expansion"]["schema"].as_str().unwrap().to_owned();
    assert_eq!(
        shop.env_of(&v2),
        with_view(&view),
        "the candidate's processes get its view schema"
    );
    assert_eq!(shop.seen_by(&v2), "ada\nbob\ncyd");

    // v1 is warm (its rollback window): a new expansion must wait for it.
    let (_, three) = shop.build(Version::V3);
    shop.env
        .hoist()
        .arg("deploy")
        .arg(&three)
        .code(1)
        .stderr_has(&format!("its old shape still serves `{v1}` on this host"))
        .run();

    let rolled = shop
        .env
        .hoist()
        .args(["rollback", "--with-db", "--json"])
        .run_json();
    assert_eq!(rolled["release"], v1.as_str(), "{rolled}");
    assert_eq!(
        rolled["expansion_aborted"]["name"], "0002_rename_name",
        "{rolled}"
    );
    assert_eq!(
        rolled["db_rolled_back"],
        serde_json::json!([]),
        "no down ran: {rolled}"
    );
    let status = shop.env.status();
    assert_eq!(
        status["agent"]["warm"],
        serde_json::json!([]),
        "v2 was stopped: {status}"
    );
    assert_eq!(
        (shop.postgres.schema_dump(), shop.history()),
        before,
        "the database is as before v2"
    );
}

#[test]
fn rollback_with_db_killed_while_aborting_finishes_it() {
    let shop = Shop::external();
    let (v1, one) = shop.build(Version::V1);
    let (_, two) = shop.build(Version::V2);
    shop.deploy(&one, &[]);
    let before = (shop.postgres.schema_dump(), shop.history());
    shop.deploy(&two, &[]);
    for kill in ["abort-expand", "expand-aborting"] {
        shop.env.kill_at(&["rollback", "--with-db"], kill);
        assert_eq!(
            shop.env.status()["pending"]["step"],
            "abort-expand",
            "{kill}"
        );
        let recovered = shop.env.hoist().args(["recover", "--json"]).run_json();
        assert_eq!(recovered["action"], "finished", "{kill}: {recovered}");
        assert_eq!(recovered["live"], v1.as_str(), "{kill}");
        assert_eq!(
            (shop.postgres.schema_dump(), shop.history()),
            before,
            "{kill}: the expansion is gone"
        );
        if kill == "abort-expand" {
            // Again, for the second kill point.
            shop.deploy(&two, &[]);
        }
    }
}

/// A PostgreSQL deploy (which always plans its part in expand and
/// contract) forgot the classic migrations it ran, so a kill before its
/// switch left them applied under the old release.
#[test]
fn postgres_deploy_killed_before_switch_kept_its_classic_migrations() {
    let shop = Shop::external();
    let (v1, one) = shop.build(Version::V1);
    shop.deploy(&one, &[]);
    let (_, next) = shop.build_with(
        Version::V1,
        &[
            ("0002_age.up.sql", "ALTER TABLE users ADD COLUMN age INT;\n"),
            ("0002_age.down.sql", "ALTER TABLE users DROP COLUMN age;\n"),
        ],
    );
    shop.env
        .kill_at(&["deploy", next.to_str().unwrap()], "switch");
    let recovered = shop.env.hoist().args(["recover", "--json"]).run_json();
    assert_eq!(recovered["live"], v1.as_str(), "{recovered}");
    assert_eq!(
        recovered["migrations_undone"],
        serde_json::json!(["0002_age"]),
        "{recovered}"
    );
    assert_eq!(shop.history(), "0001_users:pre open=none");
}

#[test]
fn a_held_candidate_runs_on_its_view_schema_and_promote_changes_no_schema() {
    let port = free_port();
    let shop = Shop::agent(port, "10m");
    let (v1, one) = shop.build(Version::V1);
    let (v2, two) = shop.build(Version::V2);
    shop.deploy(&one, &[]);
    let _agent = AgentProcess::start(&shop.env);
    let held = shop.deploy(&two, &["--hold"]);
    assert_eq!(held["outcome"], "held", "{held}");
    assert_eq!(held["live"], v1.as_str(), "{held}");
    let view = held["expansion"]["schema"].as_str().unwrap().to_owned();
    assert_eq!(
        shop.env_of(&v2),
        with_view(&view),
        "the candidate gets its view schema"
    );
    assert_eq!(shop.seen_by(&v2), "ada\nbob\ncyd");
    assert_eq!(
        shop.env_of(&v1),
        "public|",
        "the live release keeps the base"
    );

    let before = (shop.postgres.schema_dump(), shop.history());
    let promoted = shop.env.hoist().args(["promote", "--json"]).run_json();
    assert_eq!(promoted["release"], v2.as_str(), "{promoted}");
    assert_eq!(
        (shop.postgres.schema_dump(), shop.history()),
        before,
        "a promote changes no schema"
    );
    assert_eq!(shop.env.live().as_deref(), Some(v2.as_str()));
}

// `rollback --with-db` whose abort was refused after the route swap (another
// release on the new side still warm) left its journal pending: the rollback
// went unrecorded, and `hoist db abort`, which the error advised, was refused
// until a `hoist recover` that could only fail the same way.
#[test]
fn rollback_with_db_whose_abort_is_refused_left_the_site_pending() {
    let port = free_port();
    let shop = Shop::agent(port, "10m");
    let (v1, one) = shop.build(Version::V1);
    let (v2, two) = shop.build(Version::V2);
    shop.env.set_version("2.1");
    let (v21, two_one) = shop.env.build();
    shop.deploy(&one, &[]);
    let _agent = AgentProcess::start(&shop.env);
    shop.deploy(&two, &[]);
    shop.deploy(&two_one, &[]);

    // v2 and v1 are warm. Back to v1: v2.1 is stopped, but v2 (new side)
    // still serves warm, so the expansion stays.
    let refused = shop
        .env
        .hoist()
        .args(["rollback", "--with-db", "--to", &v1, "--json"])
        .code(1)
        .run_json();
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("was not removed") && message.contains(&format!("`{v2}`")),
        "{refused}"
    );
    let status = shop.env.status();
    assert!(
        status["pending"].is_null(),
        "the rollback is done, only the expansion stays: {status}"
    );
    let history = shop.env.hoist().args(["history", "--json"]).run_json();
    let last = &history[0];
    assert_eq!(
        (last["op"].as_str(), last["release"].as_str()),
        (Some("rollback"), Some(v1.as_str())),
        "the rollback is recorded: {history}"
    );
    assert_ne!(v21, v1);
    // The way out the error gave is open: refused only while v2 is warm.
    shop.env
        .hoist()
        .args(["db", "abort"])
        .code(1)
        .stderr_has("cannot abort `0002_rename_name`")
        .run();
}
