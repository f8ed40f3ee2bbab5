//! A site's own settings (`<root>/site.toml`), as a user trial found them
//! wanting: a hint that led staging to production's database, sites an
//! older hoist deployed, variables checked too late, env files read
//! unlike the shell, and broken settings ignored.

mod util;

use std::path::{Path, PathBuf};
use util::{Cmd, Env};

/// Production's config: the source dir's `hoist.toml`, with its own database.
const PRODUCTION: &str = "[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../prod\"\nchecks = [\"test -f index.html\"]\n[database]\nurl = \"sqlite://shared/prod.db\"\n";

/// A site `site/` beside `src/`, with a database; `v1` deployed.
fn deployed_site() -> (Env, String) {
    let env = Env::with_config(&format!(
        "{}[database]\nurl = \"sqlite://shared/app.db\"\n",
        util::DEFAULT_CONFIG
    ));
    with_migration(&env);
    let v1 = env.deploy_version("1");
    (env, v1)
}

fn with_migration(env: &Env) {
    env.write("migrations/0001_t.up.sql", "CREATE TABLE t (id INTEGER);\n");
    env.write("migrations/0001_t.down.sql", "DROP TABLE t;\n");
}

/// `hoist --root SITE ...`, run where there is no `hoist.toml`.
fn on_site(env: &Env) -> Cmd {
    Cmd::new(env.dir.path()).arg("--root").arg(env.site())
}

fn site_toml(env: &Env) -> PathBuf {
    env.site().join("site.toml")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_secret(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// From production's source dir, `hoist --root ../staging` hinted
/// `hoist init --site --force -c hoist.toml`, which gave staging production's database.
#[test]
fn init_hint_led_staging_to_production_database() {
    let env = Env::with_config(PRODUCTION);
    with_migration(&env);
    let staging = env.dir.path().join("staging");
    std::fs::write(
        env.dir.path().join("staging.toml"),
        "[app]\nname = \"shop\"\n[deploy]\nroot = \"staging\"\n[database]\nurl = \"sqlite://shared/staging.db\"\n",
    )
    .unwrap();
    let artifact = env.build().1;
    env.hoist().arg("deploy").arg(&artifact).run();
    Cmd::new(env.dir.path())
        .args(["-c", "staging.toml", "deploy"])
        .arg(&artifact)
        .run();

    let warned = stderr(&env.hoist().arg("--root").arg(&staging).arg("status").run());
    assert!(
        warned.contains("is for another site") && !warned.contains("hoist init --site"),
        "{warned}"
    );
    env.hoist()
        .arg("--root")
        .arg(&staging)
        .args(["init", "--site", "--force"])
        .code(1)
        .stderr_has("is for another site")
        .run();
    let kept = std::fs::read_to_string(staging.join("site.toml")).unwrap();
    assert!(
        kept.contains("staging.db") && !kept.contains("prod.db"),
        "{kept}"
    );
    // A new site, first deployed from production's source dir: nothing of production's is taken.
    let fresh = env.dir.path().join("fresh");
    env.hoist()
        .arg("--root")
        .arg(&fresh)
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("has no `site.toml`")
        .run();
    assert!(!fresh.join("site.toml").exists());
}

/// A site without `site.toml` (deployed by an older hoist) silently used
/// the live release's shipped `[database]`.
#[test]
fn site_without_site_toml_used_release_database_silently() {
    let (env, _) = deployed_site();
    std::fs::remove_file(site_toml(&env)).unwrap();
    let warned = stderr(&on_site(&env).args(["db", "status"]).run());
    assert!(
        warned.contains("has no `site.toml`")
            && warned.contains("live release's shipped `hoist.toml`")
            && warned.contains("hoist init --site"),
        "{warned}"
    );
}

/// An empty `site.toml` over a release that ships `[database]` was
/// reported as "no `[database]` in the site's site.toml, hoist.toml or the live release's".
#[test]
fn empty_site_toml_named_places_it_did_not_use() {
    let (env, _) = deployed_site();
    std::fs::write(site_toml(&env), "").unwrap();
    let message = stderr(&on_site(&env).args(["db", "status"]).code(1).run());
    assert!(
        message.contains(&site_toml(&env).display().to_string())
            && message.contains("is not used once a site has one")
            && !message.contains("or the live release's"),
        "{message}"
    );
}

/// `health = "http://127.0.0.1:${PORT/healthz"` in site.toml was found only
/// after the switch and the restart, and a good release was rolled back.
#[test]
fn bad_health_variable_found_after_restart() {
    let (env, v1) = deployed_site();
    let marker = env.site().join("restarted");
    let restart = "restart = \"touch \\\"$HOIST_ROOT/restarted\\\"\"";
    std::fs::write(
        site_toml(&env),
        format!("[deploy]\n{restart}\nhealth = \"http://127.0.0.1:${{PORT/healthz\"\n"),
    )
    .unwrap();
    env.set_version("2");
    let artifact = env.build().1;
    let refused = stderr(&env.hoist().arg("deploy").arg(&artifact).code(1).run());
    assert!(
        refused.contains("`deploy.health`") && refused.contains("line 3"),
        "{refused}"
    );
    // Expanded, but not a URL: refused at stage, before the restart.
    std::fs::write(
        site_toml(&env),
        format!("[deploy]\n{restart}\nhealth = \"$HEALTH_URL\"\n"),
    )
    .unwrap();
    let refused = stderr(
        &env.hoist()
            .arg("deploy")
            .arg(&artifact)
            .env("HEALTH_URL", "127.0.0.1:8080/healthz")
            .code(1)
            .run(),
    );
    assert!(
        refused.contains("`deploy.health`") && refused.contains("nothing was changed"),
        "{refused}"
    );
    assert!(!marker.exists(), "the restart ran: {refused}");
    assert_eq!(env.live().as_deref(), Some(v1.as_str()));
}

/// `health_release` was refused in site.toml ("unknown field"), though the
/// restart-proof warning said to set it.
#[test]
fn health_release_refused_in_site_toml() {
    let (env, _) = deployed_site();
    std::fs::write(
        site_toml(&env),
        "[deploy]\nhealth = \"http://127.0.0.1:9/\"\nhealth_release = true\n",
    )
    .unwrap();
    // From the source dir: its hoist.toml made even the old code read site.toml.
    env.hoist().arg("status").run();
}

/// `export DB_URL='sqlite://…' # comment` in the env file kept the quotes
/// and the comment in the value.
#[test]
fn env_file_quotes_kept_in_value() {
    let (env, _) = deployed_site();
    write_secret(
        &env.site().join("shared/env"),
        "export DB_URL='sqlite://shared/app.db' # this host's own\nexport OTHER=\"a \\\"b\\\"\" # x\n",
    );
    std::fs::write(
        site_toml(&env),
        "[process]\nenv_file = \"shared/env\"\n[database]\nurl = \"$DB_URL\"\n",
    )
    .unwrap();
    let status = on_site(&env).args(["db", "status", "--json"]).run();
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(json.to_string().contains("0001_t"), "{json}");
}

/// `hoist prune` used defaults over a broken site.toml, and `status` and
/// `verify` did not check it.
#[test]
fn prune_ignored_broken_site_toml() {
    let (env, _) = deployed_site();
    env.deploy_version("2");
    for broken in [
        &b"\xff\xfe\x00[deploy\x01"[..],
        b"[deploy]\nkeep_releases = \"five\"\n",
        b"[deploy]\nkeep_releases = 0\n",
    ] {
        std::fs::write(site_toml(&env), broken).unwrap();
        for command in ["prune", "status", "verify"] {
            on_site(&env)
                .arg(command)
                .code(1)
                .stderr_has("site.toml")
                .run();
        }
    }
    std::fs::write(site_toml(&env), "[deploy]\nkeep_releases = 1\n").unwrap();
    assert_eq!(env.releases().len(), 2, "prune removed nothing");
}

/// `[process]` holding only `env_file` (external mode, for `$VAR`) failed
/// "missing field `command`".
#[test]
fn env_file_only_process_needed_command() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("staging.toml"),
        "[app]\nname = \"shop\"\n[deploy]\nroot = \"staging\"\nrestart = \"true\"\n[process]\nenv_file = \"shared/env\"\n[proxy]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    Cmd::new(env.dir.path())
        .args(["-c", "staging.toml", "init", "--site"])
        .run();
    let text = std::fs::read_to_string(env.dir.path().join("staging/site.toml")).unwrap();
    assert!(text.contains("env_file = \"shared/env\""), "{text}");
    // The agent still needs a command, and says so (bounded: it must exit, not serve).
    let agent = std::process::Command::new("timeout")
        .arg("60")
        .arg(util::BIN)
        .args(["-c", "staging.toml", "agent"])
        .current_dir(env.dir.path())
        .env_remove("HOIST_ROOT")
        .output()
        .unwrap();
    let message = stderr(&agent);
    assert_eq!(agent.status.code(), Some(1), "{message}");
    assert!(message.contains("`[process] command`"), "{message}");
}

/// A deploy of a release shipping no `[process]` (seed 002's tarball) said
/// the site's `site.toml` "sets no `[process] env_file`", though it did.
#[test]
fn env_file_ignored_when_release_ships_no_process() {
    let (env, _) = deployed_site();
    write_secret(
        &env.site().join("shared/env"),
        "DB_URL=sqlite://shared/app.db\n",
    );
    std::fs::write(
        site_toml(&env),
        "[process]\nenv_file = \"shared/env\"\n[database]\nurl = \"$DB_URL\"\n",
    )
    .unwrap();
    env.write("migrations/0002_u.up.sql", "CREATE TABLE u (id INTEGER);\n");
    env.write("migrations/0002_u.down.sql", "DROP TABLE u;\n");
    env.set_version("2");
    let (v2, artifact) = env.build();
    on_site(&env).arg("deploy").arg(&artifact).run();
    assert_eq!(env.live().as_deref(), Some(v2.as_str()));
    let status = on_site(&env).args(["db", "status", "--json"]).run_json();
    assert!(status["applied"].to_string().contains("0002_u"), "{status}");
}

// A release that ships no `hoist.toml` (built with `-c other.toml`) went
// live without the site's `restart` and `health`: the old code kept
// serving while hoist said it was live (a fleet trial found it).
#[test]
fn release_without_hoist_toml_skipped_the_sites_restart_and_health() {
    let env = Env::new();
    let src = env.src();
    std::fs::rename(src.join("hoist.toml"), src.join("other.toml")).unwrap();
    let built = env
        .hoist()
        .args(["build", "-c", "other.toml", "--json"])
        .run_json();
    let artifact = built["artifact"].as_str().unwrap().to_owned();
    let site = env.site();
    std::fs::create_dir_all(&site).unwrap();
    let log = env.dir.path().join("restarts");
    std::fs::write(
        site.join("site.toml"),
        format!(
            "[deploy]\nrestart = \"echo $HOIST_RELEASE >> {}\"\n",
            log.display()
        ),
    )
    .unwrap();
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .arg("--root")
        .arg(&site)
        .run();
    let restarts = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        restarts.trim(),
        built["release"].as_str().unwrap(),
        "the site's restart ran"
    );
}

/// `colour = "red"` in a `[[notify]]` entry of site.toml made every command
/// refuse, rollback included, with a hint (`hoist init --site --force`)
/// that would have thrown the notify entries away.
#[test]
fn notify_typo_blocked_rollback_and_hinted_force() {
    let (env, v1) = deployed_site();
    let v2 = env.deploy_version("2");
    let mut text = std::fs::read_to_string(site_toml(&env)).unwrap();
    text.push_str(
        "\n[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\ncolour = \"red\"\n",
    );
    std::fs::write(site_toml(&env), &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    let full = site_toml(&env).canonicalize().unwrap();

    // A deploy refuses, naming the file and line to edit and nothing that rewrites it.
    env.set_version("3");
    let artifact = env.build().1;
    let refused = stderr(&env.hoist().arg("deploy").arg(&artifact).code(1).run());
    assert!(
        refused.contains("`colour`")
            && refused.contains(&format!("edit `{}`, line {line}", full.display()))
            && !refused.contains("--force"),
        "{refused}"
    );
    // A rollback goes ahead, warning that it sends no notification.
    let rolled = stderr(&on_site(&env).arg("rollback").run());
    assert!(
        rolled.contains("`colour`") && rolled.contains("sends no notification"),
        "{rolled}"
    );
    assert_eq!(env.live().as_deref(), Some(v1.as_str()), "from {v2}");
    on_site(&env).arg("status").run();
    assert_eq!(std::fs::read_to_string(site_toml(&env)).unwrap(), text);
}

/// With `[[notify]]` in site.toml (as documented), every command warned that
/// a hoist.toml without them differed, and offered `init --site --force`,
/// which deleted the notifications.
#[test]
fn notify_in_site_toml_warned_hoist_toml_differs() {
    let (env, _) = deployed_site();
    let mut text = std::fs::read_to_string(site_toml(&env)).unwrap();
    text.push_str(
        "\n[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\non = [\"failure\"]\n",
    );
    std::fs::write(site_toml(&env), &text).unwrap();
    let quiet = stderr(&env.hoist().arg("status").run());
    assert!(!quiet.contains("differs"), "{quiet}");
    // A real difference is named, without a `--force` that would drop the notify entries.
    env.write(
        "hoist.toml",
        &format!(
            "{}[database]\nurl = \"sqlite://shared/other.db\"\n",
            util::DEFAULT_CONFIG
        ),
    );
    let warned = stderr(&env.hoist().arg("status").run());
    assert!(
        warned.contains("`database.url`") && !warned.contains("--force"),
        "{warned}"
    );
}

/// `rollback_window` edited in site.toml: the running agent kept the old
/// value, though the warning said the site's settings are used and to edit
/// site.toml; nothing said the agent reads them only at its start.
#[test]
fn rollback_window_edit_ignored_by_the_running_agent_unsaid() {
    let (env, _) = deployed_site();
    let mut text = std::fs::read_to_string(site_toml(&env)).unwrap();
    text.push_str("\n[process]\nrollback_window = \"5s\"\n");
    std::fs::write(site_toml(&env), &text).unwrap();
    env.write(
        "hoist.toml",
        &format!(
            "{}[database]\nurl = \"sqlite://shared/app.db\"\n[process]\ncommand = \"true\"\nrollback_window = \"15s\"\n",
            util::DEFAULT_CONFIG
        ),
    );
    let warned = stderr(&env.hoist().arg("status").run());
    assert!(
        warned.contains("`process.rollback_window`")
            && warned.contains("only when it starts")
            && warned.contains("systemctl reload"),
        "{warned}"
    );
}
