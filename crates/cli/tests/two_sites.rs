//! Two sites of one app, staging and production, on one real PostgreSQL
//! server with a database each: every command run on staging uses
//! staging's own settings (`<root>/site.toml`), whatever `hoist.toml` the
//! release ships or the working directory holds, so production's schema
//! and rows stay byte for byte as they were.

mod util;

use hoist_testkit::TestPostgres;
use std::path::{Path, PathBuf};
use util::{Cmd, Env};

/// Production's `hoist.toml`: the one in the working directory, and the
/// one every artifact built here ships.
fn production_config(url: &str) -> String {
    format!(
        "[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../prod\"\nchecks = [\"test -f index.html\"]\n[database]\nurl = \"{url}\"\nlock_timeout = \"5s\"\n"
    )
}

/// Staging's own config, given once with `-c` at its first deploy.
fn staging_config(database: &str) -> String {
    format!(
        "[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"staging\"\nrestart = \"true\"\n{database}\n"
    )
}

/// Two sites and an app with one migration, built by production's config.
struct Sites {
    env: Env,
    production: TestPostgres,
    staging: TestPostgres,
}

impl Sites {
    fn new(staging_database: impl FnOnce(&TestPostgres) -> String) -> Sites {
        let production = TestPostgres::start();
        let staging = TestPostgres::start();
        let env = Env::with_config(&production_config(&production.url));
        std::fs::write(
            env.dir.path().join("staging.toml"),
            staging_config(&staging_database(&staging)),
        )
        .unwrap();
        migration(
            &env,
            "0001_products",
            "CREATE TABLE products (id BIGINT PRIMARY KEY, name TEXT NOT NULL);",
            "DROP TABLE products;",
        );
        Sites {
            env,
            production,
            staging,
        }
    }

    fn staging_root(&self) -> PathBuf {
        self.env.dir.path().join("staging")
    }

    /// Builds `version` with production's config; the artifact's path.
    fn build(&self, version: &str) -> PathBuf {
        self.env.set_version(version);
        self.env.build().1
    }

    /// `hoist -c staging.toml ARGS`, run beside staging.toml (staging's first deploy).
    fn with_staging_config(&self) -> Cmd {
        Cmd::new(self.env.dir.path()).args(["-c", "staging.toml"])
    }

    /// `hoist --root STAGING ARGS`, run in the source dir that holds production's hoist.toml.
    fn on_staging(&self) -> Cmd {
        self.env.hoist().arg("--root").arg(self.staging_root())
    }
}

fn migration(env: &Env, name: &str, up: &str, down: &str) {
    env.write(&format!("migrations/{name}.up.sql"), &format!("{up}\n"));
    env.write(&format!("migrations/{name}.down.sql"), &format!("{down}\n"));
}

/// `pg_dump --schema-only` or `--data-only` of `url`, without the random
/// `\restrict` key newer pg_dumps add to every dump.
fn dump(url: &str, what: &str) -> String {
    let output = std::process::Command::new("pg_dump")
        .args([what, "--no-owner"])
        .arg(url)
        .output()
        .expect("run pg_dump");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn both_dumps(url: &str) -> (String, String) {
    (dump(url, "--schema-only"), dump(url, "--data-only"))
}

/// Lines of either dump that the other lacks.
fn lines_in_one<'a>(before: &'a str, after: &'a str) -> impl Iterator<Item = &'a str> {
    let gone = before
        .lines()
        .filter(|line| !after.lines().any(|other| other == *line));
    let new = after
        .lines()
        .filter(|line| !before.lines().any(|other| other == *line));
    gone.chain(new)
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `hoist --root view rollback --with-db` ran the downs on production's
/// database: the release's shipped hoist.toml named it.
#[test]
fn staging_rollback_with_db_used_production_database() {
    let sites = Sites::new(|staging| {
        format!(
            "[database]\nurl = \"{}\"\nlock_timeout = \"5s\"",
            staging.url
        )
    });
    let v1 = sites.build("1");
    sites.env.hoist().arg("deploy").arg(&v1).run();
    let first = stderr(&sites.with_staging_config().arg("deploy").arg(&v1).run());
    migration(
        &sites.env,
        "0002_price",
        "ALTER TABLE products ADD COLUMN price BIGINT NOT NULL DEFAULT 0;",
        "ALTER TABLE products DROP COLUMN price;",
    );
    let v2 = sites.build("2");
    sites.env.hoist().arg("deploy").arg(&v2).run();
    sites
        .production
        .client()
        .batch_execute("INSERT INTO products VALUES (1, 'tea', 250), (2, 'cake', 400)")
        .unwrap();
    let production = both_dumps(&sites.production.url);
    let staging_schema = dump(&sites.staging.url, "--schema-only");

    // Every db and lifecycle command on staging, beside production's hoist.toml.
    let warned = stderr(&sites.on_staging().arg("deploy").arg(&v2).run());
    let migrated = dump(&sites.staging.url, "--schema-only").contains("price");
    for args in [
        &["db", "status"][..],
        &["db", "migrate", "--dry-run"],
        &["db", "migrate"],
        &["db", "rollback", "--dry-run"],
        &["db", "backup"],
        &["verify"],
        &["status"],
    ] {
        sites.on_staging().args(args).run();
    }
    let _ = sites
        .on_staging()
        .args(["db", "diff", "--against"])
        .arg(sites.env.dir.path().join("prod"))
        .output();
    sites.on_staging().args(["rollback", "--with-db"]).run();
    let undone = dump(&sites.staging.url, "--schema-only") == staging_schema;
    // Forward again, then a plain rollback (code only), then forward.
    sites.on_staging().arg("deploy").arg(&v2).run();
    sites.on_staging().arg("rollback").run();
    sites.on_staging().arg("deploy").arg(&v2).run();
    for args in [
        &["restart"][..],
        &["history"],
        &["releases"],
        &["prune"],
        &["recover"],
        &["db", "rollback"],
        &["db", "migrate"],
    ] {
        sites.on_staging().args(args).run();
    }
    // And where no hoist.toml is found: the release's shipped one names production.
    for args in [&["rollback", "--with-db"][..], &["db", "migrate"]] {
        Cmd::new(sites.env.dir.path())
            .arg("--root")
            .arg(sites.staging_root())
            .args(args)
            .run();
    }
    let after = both_dumps(&sites.production.url);
    let changed: Vec<&str> = lines_in_one(&production.0, &after.0)
        .chain(lines_in_one(&production.1, &after.1))
        .collect();
    assert!(
        after == production,
        "a command run on staging changed production's database: {changed:#?}"
    );
    assert!(migrated, "the deploy migrated staging's own database");
    assert!(
        undone,
        "rollback --with-db undid 0002 on staging's own database"
    );
    let (root, site_toml) = (sites.staging_root(), "site.toml");
    assert!(
        first.contains(&root.join(site_toml).display().to_string()),
        "the first deploy says where the site's settings now live:\n{first}"
    );
    assert!(
        warned.contains("is for another site") && !warned.contains("hoist init --site"),
        "production's hoist.toml is named as another site's, with no hint to copy it:\n{warned}"
    );
}

/// `hoist db diff --against ../view` took the other site's database from
/// its release's shipped hoist.toml (production's), and said "same".
#[test]
fn db_diff_against_compared_production_with_itself() {
    let sites = Sites::new(|staging| format!("[database]\nurl = \"{}\"", staging.url));
    let v1 = sites.build("1");
    sites.with_staging_config().arg("deploy").arg(&v1).run();
    migration(
        &sites.env,
        "0002_price",
        "ALTER TABLE products ADD COLUMN price BIGINT;",
        "ALTER TABLE products DROP COLUMN price;",
    );
    let v2 = sites.build("2");
    sites.env.hoist().arg("deploy").arg(&v2).run();

    // Run in production's source dir: here is production (v2), there is staging (v1).
    let output = sites
        .env
        .hoist()
        .args(["db", "diff", "--json", "--against"])
        .arg(sites.staging_root())
        .code(1)
        .run();
    let diff: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(diff["same"], false, "{diff}");
    assert_eq!(
        diff["only_here"],
        serde_json::json!(["0002_price"]),
        "{diff}"
    );
}

/// `database.url = "$DDGC_DB_URL"` was refused, so the URL could not come
/// from the per-host env file where seed 002 keeps it.
#[test]
fn database_url_from_env_file_was_refused() {
    let sites = Sites::new(|_| {
        "[database]\nurl = \"$DDGC_DB_URL\"\n[process]\ncommand = \"true\"\nenv_file = \"shared/env\"".to_owned()
    });
    // The secret: trust authentication ignores it, so it can be checked for leaks.
    let url = sites
        .staging
        .url
        .replacen("postgres@", "postgres:s3cret-pw@", 1);
    let env_file = sites.staging_root().join("shared/env");
    std::fs::create_dir_all(env_file.parent().unwrap()).unwrap();
    std::fs::write(&env_file, "# per-host secrets\nexport OTHER=1\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let v1 = sites.build("1");

    // Not set anywhere: the error names it and where it was looked for.
    let refused = sites
        .with_staging_config()
        .arg("deploy")
        .arg(&v1)
        .code(1)
        .run();
    let message = stderr(&refused);
    assert!(
        message.contains("`$DDGC_DB_URL`") && message.contains(&env_file.display().to_string()),
        "{message}"
    );

    std::fs::write(
        &env_file,
        format!("# per-host secrets\nDDGC_DB_URL={url}\n"),
    )
    .unwrap();
    let mut seen = Vec::new();
    for command in [
        sites
            .with_staging_config()
            .arg("deploy")
            .arg(&v1)
            .arg("--json"),
        sites.on_staging().args(["db", "status", "--json"]),
        sites.on_staging().args(["status", "--json"]),
        sites.on_staging().args(["history", "--json"]),
    ] {
        let output = command.run();
        seen.push(String::from_utf8_lossy(&output.stdout).into_owned());
        seen.push(stderr(&output));
    }
    assert!(
        dump(&sites.staging.url, "--schema-only").contains("products"),
        "the deploy migrated the database the env file names"
    );
    assert!(
        !dump(&sites.production.url, "--schema-only").contains("products"),
        "nor the one the release ships"
    );
    for file in [Path::new("site.toml"), Path::new("ledger.sqlite")] {
        let path = sites.staging_root().join(file);
        if let Ok(bytes) = std::fs::read(&path) {
            seen.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    assert!(
        seen.iter().all(|text| !text.contains("s3cret-pw")),
        "the secret was written out: {seen:#?}"
    );
}

/// `hoist init --site` stores a config's host sections only, refuses to
/// overwrite without `--force`, and a `site.toml` with an app key is
/// refused by name.
#[test]
fn init_site_stores_host_settings_only() {
    let sites = Sites::new(|staging| format!("[database]\nurl = \"{}\"", staging.url));
    sites.with_staging_config().args(["init", "--site"]).run();
    let path = sites.staging_root().join("site.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&sites.staging.url) && text.contains("restart"),
        "{text}"
    );
    assert!(
        !text.contains("[app]") && !text.contains("root ="),
        "{text}"
    );
    sites
        .with_staging_config()
        .args(["init", "--site"])
        .code(1)
        .stderr_has("--force")
        .run();
    std::fs::write(&path, format!("{text}\nchecks = [\"true\"]\n")).unwrap();
    sites
        .on_staging()
        .arg("status")
        .code(1)
        .stderr_has("`checks`")
        .run();
}

/// `hoist --root view agent`, started beside production's hoist.toml,
/// took production's `[proxy]` (and env file) instead of staging's own.
#[test]
fn agent_on_staging_used_production_settings() {
    use util::agent_process::{agent_config, free_port, AgentProcess};
    let (production_port, staging_port) = (free_port(), free_port());
    let env = Env::with_config(&agent_config(production_port, ""));
    let staging = env.dir.path().join("staging");
    // Staging's own config names staging as its root (`-c` and `--root` agree).
    std::fs::write(
        env.dir.path().join("staging.toml"),
        agent_config(staging_port, "").replace("root = \"../site\"", "root = \"staging\""),
    )
    .unwrap();
    let artifact = env.build().1;
    Cmd::new(env.dir.path())
        .args(["-c", "staging.toml", "--root"])
        .arg(&staging)
        .arg("deploy")
        .arg(&artifact)
        .run();

    let mut command = std::process::Command::new(util::BIN);
    command
        .arg("--root")
        .arg(&staging)
        .arg("agent")
        .stderr(std::process::Stdio::null());
    let _agent = AgentProcess::spawn_command(&env, command, &["agent"]);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", production_port)).is_err(),
        "the staging agent took production's listen address"
    );
    let (status, headers, _) = util::http::get(staging_port, "/");
    assert_eq!(status, 200);
    assert!(util::http::header(&headers, "x-hoist-release").is_some());
}
