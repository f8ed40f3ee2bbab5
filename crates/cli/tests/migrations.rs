//! Migrations in a deploy, against a real PostgreSQL and through a real
//! agent: pre-switch migrations before the switch, post-switch ones after
//! the old release drained, a failing migration aborts the deploy with the
//! old release serving, and `rollback --with-db` undoes what the older
//! release predates, after a `pg_dump` backup.

mod util;

use hoist_testkit::TestPostgres;
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::Env;

fn env_for(url: &str, port: u16) -> Env {
    let database = format!("[database]\nurl = \"{url}\"\nlock_timeout = \"5s\"");
    Env::with_config(&agent_config(port, &database))
}

fn deploy(env: &Env, version: &str) -> (String, std::process::Output) {
    env.set_version(version);
    let (id, artifact) = env.build();
    let output = env.hoist().args(["deploy", "--json"]).arg(&artifact).run();
    (id, output)
}

/// A GET through the agent: the release that answered.
fn answered_by(port: u16) -> String {
    let mut stream = BufReader::new(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    stream
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut head = String::new();
    let mut release = String::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("x-hoist-release") {
                release = value.trim().to_owned();
            }
        }
        head.push_str(&line);
    }
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    release
}

#[test]
fn deploys_migrate_postgres_before_and_after_the_switch_and_a_bad_one_changes_nothing() {
    let postgres = TestPostgres::start();
    let port = free_port();
    let env = env_for(&postgres.url, port);
    env.write(
        "migrations/0001_create_products.up.sql",
        "CREATE TABLE products (id BIGINT PRIMARY KEY, name TEXT NOT NULL, legacy_code TEXT);\n",
    );
    env.write(
        "migrations/0001_create_products.down.sql",
        "DROP TABLE products;\n",
    );
    let (v1, _) = deploy(&env, "1");
    let _agent = AgentProcess::start(&env);
    assert_eq!(answered_by(port), v1);
    assert_eq!(env.applied(), ["0001_create_products"]);
    postgres
        .client()
        .batch_execute("INSERT INTO products VALUES (1, 'tea', 'T-1')")
        .unwrap();

    // v2 expands (pre) and contracts (post, after v1 drained).
    env.write(
        "migrations/0002_add_price.up.sql",
        "ALTER TABLE products ADD COLUMN price_cents BIGINT NOT NULL DEFAULT 0;\n",
    );
    env.write(
        "migrations/0002_add_price.down.sql",
        "ALTER TABLE products DROP COLUMN price_cents;\n",
    );
    env.write(
        "migrations/0003_drop_legacy.up.sql",
        "-- hoist: phase=post\nALTER TABLE products DROP COLUMN legacy_code;\n",
    );
    env.write(
        "migrations/0003_drop_legacy.down.sql",
        "ALTER TABLE products ADD COLUMN legacy_code TEXT;\n",
    );
    let (v2, output) = deploy(&env, "2");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["migrations"],
        serde_json::json!(["0002_add_price", "0003_drop_legacy"])
    );
    assert_eq!(answered_by(port), v2);
    let status = env.status();
    assert_eq!(status["schema"]["version"], 3, "{status}");
    assert_eq!(status["schema"]["pending"], 0);

    // v3's migration fails halfway: the deploy is aborted and v2 keeps serving.
    env.write(
        "migrations/0004_orders.up.sql",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY);\nALTER TABLE products ADD COLUMN stock BIGINT;\nINSERT INTO no_such_table VALUES (1);\n",
    );
    env.set_version("3");
    let (v3, artifact) = env.build();
    env.hoist()
        .args(["deploy"])
        .arg(&artifact)
        .code(1)
        .stderr_has("0004_orders")
        .stderr_has("nothing was switched")
        .run();
    assert_eq!(answered_by(port), v2);
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));
    assert_eq!(env.applied().len(), 3);
    let mut client = postgres.client();
    let orders: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'orders'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(orders, 0, "the half-made table was rolled back");
    let releases = env.releases();
    assert!(
        releases.contains(&(v3.clone(), "failed".into())),
        "{releases:?}"
    );
    std::fs::remove_file(env.src().join("migrations/0004_orders.up.sql")).unwrap();

    // Rolling back to v1 names what v1 predates; --with-db undoes it after a pg_dump.
    let rolled = env
        .hoist()
        .args(["rollback", "--to", &v1, "--with-db", "--json"])
        .run_json();
    assert_eq!(
        rolled["predates"],
        serde_json::json!(["0002_add_price", "0003_drop_legacy"])
    );
    assert_eq!(
        rolled["db_rolled_back"],
        serde_json::json!(["0003_drop_legacy", "0002_add_price"])
    );
    let backup = std::path::PathBuf::from(rolled["db_backup"].as_str().unwrap());
    assert!(std::fs::metadata(&backup).unwrap().len() > 0, "{backup:?}");
    assert_eq!(answered_by(port), v1);
    assert_eq!(env.applied(), ["0001_create_products"]);
    let row = client
        .query_one("SELECT name, legacy_code FROM products WHERE id = 1", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "tea", "rows survive the downs");
    assert_eq!(
        row.get::<_, Option<String>>(1),
        None,
        "a dropped column comes back empty"
    );

    // The backup restores the v2 schema with its data.
    env.hoist().args(["db", "restore"]).arg(&backup).run();
    let columns: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'products'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(columns, 3, "id, name, price_cents");
    let history = env.hoist().args(["history", "--json"]).run_json();
    let backups: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["detail"].as_str())
        .filter(|detail| detail.contains("backup: "))
        .collect();
    assert!(
        backups.len() >= 3,
        "every change records its backup: {backups:?}"
    );
}

#[test]
fn db_diff_compares_two_sites_and_status_reports_drift() {
    let staging = Env::with_config("[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../site\"\n[database]\nurl = \"sqlite://shared/app.db\"\n");
    staging.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    staging.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
    staging.hoist().args(["deploy", "-q"]).run();
    let production = Env::with_config("[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../site\"\n[database]\nurl = \"sqlite://shared/app.db\"\n");
    production.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    production.hoist().args(["deploy", "-q"]).run();

    let against = production.site();
    let diff = staging
        .hoist()
        .args(["db", "diff", "--json", "--against"])
        .arg(&against)
        .code(1)
        .run();
    let diff: serde_json::Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(diff["only_here"], serde_json::json!(["0002_b"]));
    assert_eq!(diff["same"], false);

    staging.write(
        "migrations/0002_b.up.sql",
        "CREATE TABLE b (id INTEGER, extra TEXT);\n",
    );
    let status = staging
        .hoist()
        .args(["db", "status", "--json", "--migrations"])
        .arg(staging.src().join("migrations"))
        .run_json();
    assert_eq!(status["drift"][0]["name"], "0002_b", "{status}");
    staging
        .hoist()
        .args(["db", "migrate", "--migrations"])
        .arg(staging.src().join("migrations"))
        .code(1)
        .stderr_has("0002_b.up.sql")
        .stderr_has("was edited after it was applied")
        .run();
}

#[test]
fn a_code_rollback_works_while_the_database_is_unreachable() {
    let env = Env::with_config(
        "[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../site\"\n[database]\nurl = \"sqlite://shared/app.db\"\nlock_timeout = \"1s\"\n",
    );
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    let v1 = env.deploy_version("1");
    env.deploy_version("2");
    // The database file is replaced by something SQLite cannot open.
    let db = env.site().join("shared/app.db");
    std::fs::remove_file(&db).unwrap();
    std::fs::create_dir(&db).unwrap();
    env.hoist().args(["rollback", "--with-db"]).code(1).run();
    env.hoist()
        .arg("rollback")
        .stderr_has("rolling back the code only")
        .run();
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
}

#[test]
fn backups_beyond_keep_backups_are_removed_oldest_first() {
    let env = Env::with_config(
        "[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../site\"\n[database]\nurl = \"sqlite://shared/app.db\"\nkeep_backups = 2\n",
    );
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.hoist().args(["deploy", "-q"]).run();
    let made: Vec<String> = (0..4)
        .map(|_| {
            let report = env.hoist().args(["db", "backup", "--json"]).run_json();
            report["path"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut left: Vec<String> = std::fs::read_dir(env.site().join("data/backups"))
        .unwrap()
        .map(|entry| entry.unwrap().path().display().to_string())
        .collect();
    left.sort();
    assert_eq!(left, made[2..], "the two newest stay");
}
