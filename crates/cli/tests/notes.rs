//! Deployment notes (issue 16, item 3): the commits between the live
//! release and the next, read from a real git repository made here, with
//! their `Deployment:` sections in full (seed 002), shown by `hoist
//! deploy` before it switches, kept in the ledger, and a warning when a
//! note speaks of a schema change the release ships no migration for.

mod util;

use serde_json::Value;
use util::git_repo::{self, build, commit};
use util::Env;

/// A source tree that is a git checkout with one commit.
fn repo() -> Env {
    git_repo::init(Env::new())
}

/// [`repo`] for an app with a `[database]` (a schema to warn about).
fn repo_with_database() -> Env {
    git_repo::init(Env::with_config(&util::sqlite_config("")))
}

/// `git rev-parse REV` in the source dir.
fn rev_parse(env: &Env, revision: &str) -> String {
    let output = std::process::Command::new("git")
        .current_dir(env.src())
        .args(["rev-parse", revision])
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

const FOOBAR: &str = "New foobar magic.\n\nDeployment:\n\n- This version has schema changes - run ddgc_db_autoupgrade.pl\n- New dependency - Foo::Bar::Magic\n";

#[test]
fn notes_list_subjects_and_deployment_sections_with_the_schema_warning() {
    let env = repo_with_database();
    let (_, first) = build(&env, "1.0");
    env.hoist().arg("deploy").arg(&first).run();
    commit(&env, &[("lib/foobar.txt", "magic\n")], FOOBAR);
    commit(&env, &[("index.html", "<h1>shop!</h1>\n")], "Fix the title");
    let (_, second) = build(&env, "1.1");

    let notes = env
        .hoist()
        .args(["notes", "--json"])
        .arg(&second)
        .run_json();
    let subjects: Vec<&str> = notes["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|commit| commit["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        ["Version 1.1", "Fix the title", "New foobar magic."],
        "{notes:#}"
    );
    assert_eq!(
        notes["commits"][2]["deployment"],
        "- This version has schema changes - run ddgc_db_autoupgrade.pl\n- New dependency - Foo::Bar::Magic"
    );
    let warnings = notes["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{notes:#}");
    assert!(
        warnings[0].as_str().unwrap().contains("adds no migration"),
        "{warnings:?}"
    );

    // The deploy shows them before its switch, and the ledger keeps them.
    let output = env
        .hoist()
        .arg("deploy")
        .arg(&second)
        .stderr_has("New dependency - Foo::Bar::Magic")
        .stderr_has("notes a schema change")
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let notes_at = stderr.find("Foo::Bar::Magic").unwrap();
    let switch_at = stderr.rfind("hoist: switch").unwrap_or(stderr.len());
    assert!(notes_at < switch_at, "notes after the switch:\n{stderr}");
    let history = env
        .hoist()
        .args(["history", "--json", "-n", "1"])
        .run_json();
    let kept = history[0]["notes"].as_str().unwrap();
    assert!(
        kept.contains("Fix the title") && kept.contains("Foo::Bar::Magic"),
        "{kept}"
    );
    let human = env.hoist().args(["history", "-n", "1"]).run();
    assert!(String::from_utf8_lossy(&human.stdout).contains("ddgc_db_autoupgrade.pl"));
}

#[test]
fn a_release_that_adds_its_migration_gets_no_warning_and_json_carries_the_notes() {
    let env = repo();
    let (_, first) = build(&env, "1.0");
    env.hoist().arg("deploy").arg(&first).run();
    commit(
        &env,
        &[(
            "migrations/0001_price.sql",
            "ALTER TABLE items ADD COLUMN price INTEGER;\n",
        )],
        "Prices\n\nDeployment:\n- adds the `price` column (migration 0001)\n",
    );
    let (id, second) = build(&env, "1.1");
    let report = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&second)
        .run_json();
    assert_eq!(report["release"], id.as_str());
    let notes = &report["notes"];
    assert_eq!(notes["warnings"], Value::Array(Vec::new()), "{notes:#}");
    assert_eq!(
        notes["commits"][1]["deployment"],
        "- adds the `price` column (migration 0001)"
    );
}

#[test]
fn without_a_repository_notes_say_so_and_deploys_go_on() {
    // No `git init`: the artifacts carry no revision.
    let env = Env::new();
    env.deploy_version("1.0");
    env.set_version("1.1");
    let (id, second) = env.build();
    let notes = env
        .hoist()
        .args(["notes", "--json"])
        .arg(&second)
        .run_json();
    let problem = notes["unavailable"].as_str().unwrap();
    assert!(
        problem.contains("revision") && problem.contains("unknown"),
        "{problem}"
    );
    assert_eq!(notes["commits"], Value::Array(Vec::new()));
    env.hoist()
        .arg("deploy")
        .arg(&second)
        .stderr_has("no deployment notes")
        .run();
    assert_eq!(env.live().as_deref(), Some(id.as_str()));

    // A revision the repository does not know is said, not guessed.
    let env = repo();
    let notes = env
        .hoist()
        .args(["notes", "--json", "0123456789abcdef", "HEAD"])
        .run_json();
    let problem = notes["unavailable"].as_str().unwrap();
    assert!(
        problem.contains("no commit `0123456789abcdef`"),
        "{problem}"
    );
}

#[test]
fn schema_warning_for_an_app_without_database() {
    // An app with no `[database]` was warned that a note's schema change had no migration.
    let env = repo();
    let (_, first) = build(&env, "1.0");
    env.hoist().arg("deploy").arg(&first).run();
    commit(&env, &[("lib/foobar.txt", "magic\n")], FOOBAR);
    let (_, second) = build(&env, "1.1");
    let notes = env
        .hoist()
        .args(["notes", "--json"])
        .arg(&second)
        .run_json();
    assert_eq!(notes["commits"].as_array().unwrap().len(), 2, "{notes:#}");
    assert_eq!(notes["warnings"], Value::Array(Vec::new()), "{notes:#}");
}

#[test]
fn missing_release_said_the_repository_has_no_commit() {
    // `hoist notes 2099…-x HEAD` said "the repository has no commit" for a release id.
    let env = repo();
    env.hoist().arg("deploy").arg(build(&env, "1.0").1).run();
    let notes = env
        .hoist()
        .args(["notes", "--json", "20990101T0000Z-x", "HEAD"])
        .run_json();
    let problem = notes["unavailable"].as_str().unwrap();
    assert!(
        problem.contains("no release `20990101T0000Z-x`")
            && problem.contains("hoist releases")
            && !problem.contains("no commit"),
        "{problem}"
    );
}

#[test]
fn outside_a_site_notes_said_nothing_is_live() {
    // Outside any site `hoist notes` said "nothing is live" instead of naming the missing site.
    let env = repo();
    commit(&env, &[("a.txt", "a\n")], "Second");
    let nowhere = env.dir.path().join("nowhere");
    let notes = env
        .hoist()
        .arg("--root")
        .arg(&nowhere)
        .args(["notes", "--json"])
        .run_json();
    let problem = notes["unavailable"].as_str().unwrap();
    assert!(
        problem.contains(&format!("no site at `{}`", nowhere.display()))
            && !problem.contains("nothing is live"),
        "{problem}"
    );
}

#[test]
fn backwards_range_said_no_commits_between() {
    // `hoist notes HEAD v1.0` said "no commits between" instead of calling it a downgrade.
    let env = repo();
    let old = rev_parse(&env, "HEAD");
    commit(&env, &[("a.txt", "a\n")], "Add a");
    commit(&env, &[("b.txt", "b\n")], "Add b");
    let output = env.hoist().args(["notes", "HEAD", &old]).run();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!("`{old}` is older than `HEAD`"))
            && text.contains("downgrade that undoes 2 commits")
            && text.contains("Add b")
            && text.contains("Add a")
            && !text.contains("no commits between"),
        "{text}"
    );
    let notes = env
        .hoist()
        .args(["notes", "--json", "HEAD", &old])
        .run_json();
    assert_eq!(notes["undone"].as_array().unwrap().len(), 2, "{notes:#}");
    assert_eq!(notes["commits"], Value::Array(Vec::new()));
}

#[test]
fn shallow_clone_told_to_fetch() {
    // A shallow clone lacking FROM was told "fetch it", which does not bring it back.
    let env = repo();
    let old = rev_parse(&env, "HEAD");
    commit(&env, &[("a.txt", "a\n")], "Add a");
    let clone = env.dir.path().join("clone");
    let status = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1"])
        .arg(format!("file://{}", env.src().display()))
        .arg(&clone)
        .status()
        .unwrap();
    assert!(status.success());
    let notes = util::Cmd::new(&clone)
        .args(["notes", "--json", &old, "HEAD"])
        .run_json();
    let problem = notes["unavailable"].as_str().unwrap();
    assert!(problem.contains("git fetch --unshallow"), "{problem}");
}

#[test]
fn untracked_dist_marked_build_dirty() {
    // After one `hoist build`, its untracked `dist/` made the next release id end in `-dirty`.
    let env = Env::new();
    git_repo::git(&env, &["init", "-q", "-b", "main"]);
    git_repo::git(&env, &["add", "-A"]);
    git_repo::git(&env, &["commit", "-q", "-m", "No .gitignore"]);
    env.build();
    assert!(env.src().join("dist").is_dir());
    let (id, _) = env.build();
    assert!(!id.ends_with("-dirty"), "{id}");
    // A change to a tracked file still is one.
    env.write("index.html", "<h1>changed</h1>\n");
    let (id, _) = env.build();
    assert!(id.ends_with("-dirty"), "{id}");
}
