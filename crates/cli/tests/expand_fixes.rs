//! Regression tests for the first user trial of expand and contract on
//! PostgreSQL (`/work/trial1/FINDINGS.md`), through the real binary on a
//! real PostgreSQL, external mode (the app's own `restart`), each named
//! after the bug it pins.

mod util;

use hoist_testkit::TestPostgres;
use std::path::{Path, PathBuf};
use std::process::Command;
use util::Env;

/// `0002`: `users.name` becomes `full_name`.
const RENAME: &str =
    "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n";

/// `0002`: a NOT NULL `score` whose backfill divides by zero on row 3.
/// Passes begin's checks, fails after the triggers exist: `bob` breaks the
/// CHECK that VALIDATE (the constraints step) reads over every row.
const FAILS_AFTER_TRIGGERS: &str = "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"score\"\nsql_type = \"integer\"\nnot_null = true\nbackfill = \"100\"\n[[op]]\ntype = \"add_constraint\"\ntable = \"users\"\nname = \"users_no_bob\"\ncheck = \"name <> 'bob'\"\n";

/// A site of a tiny app (its `restart` runs `start.sh`) on its own database.
struct Shop {
    env: Env,
    postgres: TestPostgres,
}

impl Shop {
    fn new() -> Shop {
        Shop::with("ddl_lock_timeout = \"2s\"\n")
    }

    /// A shop whose `[database]` also has `settings`.
    fn with(settings: &str) -> Shop {
        let postgres = TestPostgres::start();
        let config = format!(
            "[app]\nname = \"shop\"\nversion = \"1\"\n[deploy]\nroot = \"../site\"\nkeep_releases = 10\nrestart = \"sh start.sh\"\n[database]\nurl = \"{}\"\nlock_timeout = \"10s\"\n{settings}backfill_batch = 1\nbackfill_pause = \"1ms\"\n",
            postgres.url
        );
        let env = Env::with_config(&config);
        env.write(
            "migrations/0001_users.up.sql",
            "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO users (name) VALUES ('ada'), ('bob'), ('cyd');\n",
        );
        env.write("migrations/0001_users.down.sql", "DROP TABLE users;\n");
        Shop { env, postgres }
    }

    /// Builds version `version` with `extra` migrations (name, text) beside
    /// `0001`, and a `start.sh` that runs `start` (empty: starts fine).
    fn build(&self, version: &str, extra: &[(&str, &str)], start: &str) -> (String, PathBuf) {
        let migrations = self.env.src().join("migrations");
        for entry in std::fs::read_dir(&migrations).unwrap().flatten() {
            if !entry.file_name().to_string_lossy().starts_with("0001_") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        for (name, text) in extra {
            self.env.write(&format!("migrations/{name}"), text);
        }
        self.env.write("start.sh", &format!("{start}\n"));
        self.env.set_version(version);
        self.env.build()
    }

    /// `psql -Atc SQL` as hoist's own session sees the database.
    /// `hoist deploy ARTIFACT`, which must go through.
    fn deploy(&self, artifact: &Path) {
        self.env.hoist().arg("deploy").arg(artifact).run();
    }

    /// `hoist deploy --json ARTIFACT`, which must fail: its JSON.
    fn deploy_refused(&self, artifact: &Path) -> serde_json::Value {
        self.env
            .hoist()
            .args(["deploy", "--json"])
            .arg(artifact)
            .code(1)
            .run_json()
    }

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

    /// The schema, the history and the open expansion.
    fn database(&self) -> (String, String) {
        let history = self.sql(
            "SELECT string_agg(name || ':' || phase, ',' ORDER BY version) FROM hoist_schema_history",
        );
        let open = match self
            .sql("SELECT to_regclass('public.hoist_expansion') IS NOT NULL")
            .as_str()
        {
            "t" => self.sql("SELECT coalesce((SELECT name FROM hoist_expansion), 'none')"),
            _ => "none".to_owned(),
        };
        (
            self.postgres.schema_dump(),
            format!("{history} open={open}"),
        )
    }
}

fn error_of(json: &serde_json::Value) -> (String, String, String) {
    let text = |key: &str| json["error"][key].as_str().unwrap_or_default().to_owned();
    (text("kind"), text("message"), text("hint"))
}

#[test]
fn failed_expand_left_its_trigger_on_the_live_table() {
    // A backfill failing mid-way left `_hoist_sync` on `users`: the live
    // release's own inserts then failed with the new release's expression.
    let shop = Shop::new();
    let (v1, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_score.toml", FAILS_AFTER_TRIGGERS)], "");
    shop.deploy(&one);
    let before = shop.database();

    let failed = shop.deploy_refused(&two);
    let (kind, message, hint) = error_of(&failed);
    assert_eq!(kind, "expand-failed", "{failed}");
    assert!(
        message.contains("users_no_bob") && message.contains("was removed again"),
        "{failed}"
    );
    assert!(hint.contains("0002_score"), "{failed}");
    assert_eq!(shop.env.live().as_deref(), Some(v1.as_str()));
    assert_eq!(
        shop.database(),
        before,
        "the database is as before the deploy"
    );
    // The live release's writes work on every row id, as before.
    for _ in 0..3 {
        shop.sql("INSERT INTO users (name) VALUES ('eve')");
    }
    assert!(
        shop.env.status()["pending"].is_null(),
        "nothing is left to recover"
    );
}

#[test]
fn candidate_failing_after_expand_did_not_say_the_expansion_stays() {
    // The expansion stayed open after the candidate failed its start, and
    // the error said nothing of it nor of the way to remove it.
    let shop = Shop::new();
    let (v1, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_rename_name.toml", RENAME)], "exit 1");
    shop.deploy(&one);

    let failed = shop.deploy_refused(&two);
    let (_, message, hint) = error_of(&failed);
    assert!(
        message.contains("the expansion of `0002_rename_name` stays open")
            && message.contains("`hoist db abort`"),
        "{failed}"
    );
    assert!(hint.contains("hoist db abort"), "{failed}");
    assert_eq!(shop.env.live().as_deref(), Some(v1.as_str()));
    assert!(shop.database().1.ends_with("open=0002_rename_name"));
}

#[test]
fn release_sharing_a_number_was_put_on_the_new_side_and_contract_broke_it() {
    // Sides were judged by migration number: a release shipping another
    // `0002` (on the base schema) counted as new side, and `db complete`
    // dropped `users.name` under it while it served.
    let shop = Shop::new();
    let invoices = [
        ("0002_invoices.up.sql", "CREATE TABLE invoices (id int);\n"),
        ("0002_invoices.down.sql", "DROP TABLE invoices;\n"),
    ];
    let (other, one) = shop.build("1", &invoices, "");
    shop.deploy(&one);
    // Undone by hand, as the operator did in the trial.
    shop.sql("DROP TABLE invoices; DELETE FROM hoist_schema_history WHERE version = 2");
    let (_, two) = shop.build("2", &[("0002_rename_name.toml", RENAME)], "");
    shop.deploy(&two);
    shop.env.hoist().args(["rollback", "--to", &other]).run();

    let status = shop.env.hoist().args(["db", "status", "--json"]).run_json();
    let serving = &status["expansion"]["serving"];
    assert_eq!(serving[0]["release"], other.as_str(), "{status}");
    assert_eq!(serving[0]["side"], "old", "{status}");
    let refused = shop
        .env
        .hoist()
        .args(["db", "complete", "--json"])
        .code(1)
        .run_json();
    assert_eq!(error_of(&refused).0, "contract-refused", "{refused}");
    assert_eq!(
        shop.sql("SELECT name FROM users WHERE id = 1"),
        "ada",
        "the live release's column is still there"
    );
}

/// `0002`: raw SQL with no `down` (no abort can undo it).
const SQL_NO_DOWN: &str =
    "[[op]]\ntype = \"sql\"\nup = \"CREATE TABLE invoices (id bigint PRIMARY KEY)\"\n";

#[test]
fn rollback_with_db_of_an_sql_op_without_down_wedged_the_site() {
    // `rollback --with-db` swapped the route, then failed on the abort
    // no `down` allows, and every way out it named failed the same way.
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let (v2, two) = shop.build("2", &[("0002_invoices.toml", SQL_NO_DOWN)], "");
    shop.deploy(&one);
    let deployed = shop
        .env
        .hoist()
        .args(["deploy"])
        .arg(&two)
        .stderr_has("has no `down`: no abort can undo it")
        .run();
    assert!(deployed.status.success());

    let refused = shop
        .env
        .hoist()
        .args(["rollback", "--with-db", "--json"])
        .code(1)
        .run_json();
    let (kind, message, hint) = error_of(&refused);
    assert_eq!(kind, "cannot-abort", "{refused}");
    assert!(
        message.contains("op 1 (`sql`) has no `down`") && message.contains("nothing was switched"),
        "{refused}"
    );
    assert!(hint.contains("hoist rollback --to"), "{refused}");
    assert_eq!(shop.env.live().as_deref(), Some(v2.as_str()));
    assert!(shop.env.status()["pending"].is_null(), "nothing is pending");
    // The way out it names works: a plain rollback, the expansion kept.
    shop.env.hoist().arg("rollback").run();
    assert!(shop.database().1.ends_with("open=0002_invoices"));
}

#[test]
fn rollback_past_a_contract_hinted_force_which_its_message_says_fails() {
    // The refusal's JSON hint was `hoist rollback --force`, though the
    // message says the old release would fail on the contracted schema.
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_rename_name.toml", RENAME)], "");
    shop.deploy(&one);
    shop.deploy(&two);
    shop.env.hoist().args(["db", "complete"]).run();

    let refused = shop
        .env
        .hoist()
        .args(["rollback", "--json"])
        .code(1)
        .run_json();
    let (kind, _, hint) = error_of(&refused);
    assert_eq!(kind, "contracted-predated", "{refused}");
    assert!(
        !hint.contains("--force") && hint.contains("full_name") && hint.contains("new migration"),
        "{refused}"
    );
}

#[test]
fn db_status_never_said_an_operation_was_interrupted() {
    // After a kill mid-expand, `db status` offered `db complete` and
    // `db abort`, which refuse until `hoist recover` ran; it never said so.
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_rename_name.toml", RENAME)], "");
    shop.deploy(&one);
    shop.env
        .kill_at(&["deploy", two.to_str().unwrap()], "expand-views");

    let status = shop.env.hoist().args(["db", "status", "--json"]).run_json();
    assert_eq!(status["interrupted"]["op"], "deploy", "{status}");
    assert_eq!(status["interrupted"]["step"], "expand", "{status}");
    let text = shop.env.hoist().args(["db", "status"]).run();
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("interrupted")
            && text.contains("next:")
            && text.contains("`hoist recover` first"),
        "{text}"
    );
}

#[test]
fn declarative_on_sqlite_was_called_expanded_by_the_deploy_that_refuses_it() {
    // SQLite `db status` said the deploy would expand it; the deploy
    // refused it as `declarative-needs-postgres`, `db migrate` as `postgres-only`.
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    let (_, one) = env.build();
    env.hoist().arg("deploy").arg(&one).run();
    env.write("migrations/0002_b.toml", RENAME);
    env.set_version("2");
    let (_, two) = env.build();

    let status = env
        .hoist()
        .args(["db", "status", "--migrations"])
        .arg(env.src().join("migrations"))
        .run();
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        text.contains("0002_b (refused: declarative migrations need PostgreSQL"),
        "{text}"
    );
    let refused = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&two)
        .code(1)
        .run_json();
    assert_eq!(error_of(&refused).0, "postgres-only", "{refused}");
}

#[test]
fn recover_after_a_kill_in_expand_said_cleaned_up_though_it_finished_it() {
    // `hoist recover` said "cleaned up" (and the ledger too) after it had
    // finished the expansion, and not that deploying again switches to it.
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let (v2, two) = shop.build("2", &[("0002_rename_name.toml", RENAME)], "");
    shop.deploy(&one);
    shop.env
        .kill_at(&["deploy", two.to_str().unwrap()], "expand-views");

    let recovered = shop.env.hoist().arg("recover").run();
    let text = String::from_utf8_lossy(&recovered.stdout).into_owned();
    assert!(
        !text.contains("cleaned up")
            && text.contains("finished what the deploy began")
            && text.contains(&format!("deploying `{v2}` again switches to it")),
        "{text}"
    );
    let history = shop.env.hoist().args(["history", "--json"]).run_json();
    let detail = history[0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("finished what the deploy began"),
        "{history}"
    );
}

#[test]
fn contract_left_the_live_release_naming_a_dropped_schema_unsaid() {
    // After `db complete` the live release kept `HOIST_DB_SCHEMA` naming
    // the dropped view schema; nothing said so (JSON: an unexplained `rebased`).
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let (v2, two) = shop.build("2", &[("0002_rename_name.toml", RENAME)], "");
    shop.deploy(&one);
    shop.deploy(&two);

    let completed = shop.env.hoist().args(["db", "complete"]).run();
    let text = String::from_utf8_lossy(&completed.stdout).into_owned();
    assert!(
        text.contains(&format!("`{v2}` starts on the base schema"))
            && text.contains("until it restarts"),
        "{text}"
    );
    let help = shop.env.hoist().args(["db", "complete", "--help"]).run();
    assert!(String::from_utf8_lossy(&help.stdout).contains("`rebased`"));
}

#[test]
fn build_packed_an_invalid_migration_found_only_by_the_deploy() {
    // `hoist build` packed a malformed `.toml` migration; the deploy found
    // it after copy, unpack and seal, named by the sealed release's path.
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.write("migrations/0002_x.toml", "[[op]]\ntype = \"bogus\"\n");
    let refused = env.hoist().args(["build", "--json"]).code(1).run_json();
    let (kind, message, _) = error_of(&refused);
    assert_eq!(kind, "migration-invalid", "{refused}");
    assert!(
        message.contains("`migrations/0002_x.toml`") && message.contains("bogus"),
        "{refused}"
    );
    assert!(
        !env.src().join("dist").exists()
            || std::fs::read_dir(env.src().join("dist"))
                .unwrap()
                .next()
                .is_none(),
        "nothing was packed"
    );
}

#[test]
fn recover_of_a_rollback_stuck_on_an_unabortable_expansion_named_db_abort() {
    // The trial's stuck journal: `rollback --with-db` killed while removing
    // an expansion whose `sql` op has no `down`. `recover` failed the same
    // way every time and pointed at `hoist db abort`, which cannot work.
    let shop = Shop::new();
    let (v1, one) = shop.build("1", &[], "");
    let (v2, two) = shop.build("2", &[("0002_invoices.toml", SQL_NO_DOWN)], "");
    shop.deploy(&one);
    shop.deploy(&two);
    shop.env.hoist().args(["rollback", "--to", &v1]).run();
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let journal = serde_json::json!({
        "op_id": "1-1", "op": "rollback", "release": v1, "from": v2,
        "step": "abort-expand", "user": "root", "host": "vm", "pid": pid,
        "started_at": "2026-12-01T09:35:59Z", "reason": null, "incoming": null,
        "paused": false, "schema_changed": false
    });
    std::fs::write(shop.env.site().join("journal.json"), journal.to_string()).unwrap();

    let recovered = shop
        .env
        .hoist()
        .args(["recover", "--json"])
        .code(1)
        .run_json();
    let (_, message, hint) = error_of(&recovered);
    assert!(
        message.contains("has no `down`") && message.contains("`hoist db complete`"),
        "{recovered}"
    );
    assert!(
        !message.contains("`hoist db abort` removes it"),
        "{recovered}"
    );
    assert!(hint.contains("hoist db complete"), "{recovered}");
    assert!(shop.env.status()["pending"].is_null(), "not wedged");
    // What the message names is open: a deploy of v2 again joins it.
    shop.deploy(&two);
    assert_eq!(shop.env.live().as_deref(), Some(v2.as_str()));
}

/// `0003`: a NOT NULL `plan`, contracted after `0002`.
const PLAN: &str = "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"'free'\"\n";

#[test]
fn rollback_past_two_contracts_named_only_the_newest() {
    // The refusal named only `0003_plan` (restore: drop_column users.plan);
    // deploying that would still leave `name` missing for the target.
    let shop = Shop::new();
    let (v1, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_rename_name.toml", RENAME)], "");
    let (_, three) = shop.build(
        "3",
        &[("0002_rename_name.toml", RENAME), ("0003_plan.toml", PLAN)],
        "",
    );
    shop.deploy(&one);
    shop.deploy(&two);
    shop.deploy(&three);
    shop.env.hoist().args(["db", "complete"]).run();

    let refused = shop
        .env
        .hoist()
        .args(["rollback", "--json", "--to", &v1])
        .code(1)
        .run_json();
    let (kind, message, hint) = error_of(&refused);
    assert_eq!(kind, "contracted-predated", "{refused}");
    let rename = "rename_column users.full_name -> name";
    let plan = "drop_column users.plan";
    assert!(
        message.contains("predates `0002_rename_name` and `0003_plan`, which were contracted"),
        "both, oldest first: {refused}"
    );
    // The ops newest first: the order they undo in.
    let each = format!("`0003_plan`: {plan}; `0002_rename_name`: {rename}");
    assert!(
        message.contains(&each) && hint.contains(&each),
        "each with its ops: {refused}"
    );
    let text = shop
        .env
        .hoist()
        .args(["rollback", "--to", &v1])
        .code(1)
        .run();
    let text = String::from_utf8_lossy(&text.stderr).into_owned();
    assert!(text.contains(rename) && text.contains(plan), "{text}");
}

/// `0002`: a nullable `tier`.
const TIER: &str =
    "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"tier\"\nsql_type = \"text\"\n";

#[test]
fn lock_never_granted_hinted_to_fix_the_migration() {
    // The message said to run it again once the blocking transaction is
    // done; the hint said "fix `0002_tier`", which has nothing wrong.
    let shop = Shop::with("ddl_lock_timeout = \"100ms\"\nddl_retries = 1\n");
    let (_, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_tier.toml", TIER)], "");
    shop.deploy(&one);
    let mut holder = shop.postgres.client();
    let mut holding = holder.transaction().unwrap();
    holding
        .batch_execute("LOCK TABLE users IN ACCESS SHARE MODE")
        .unwrap();

    let failed = shop.deploy_refused(&two);
    holding.rollback().unwrap();
    drop(holder);
    let (kind, message, hint) = error_of(&failed);
    assert_eq!(kind, "expand-failed", "{failed}");
    assert!(
        message.contains("could not add the new columns") && !message.contains("gave up on"),
        "{failed}"
    );
    assert!(
        !hint.contains("fix `0002_tier`")
            && hint.contains("deploy again once the transaction")
            && hint.contains("nothing in `0002_tier` needs fixing"),
        "{failed}"
    );
    // As the hint says: with the transaction gone the same deploy works.
    shop.deploy(&two);
}

/// `0002`: an index on a column `users` lacks.
const INDEX_ON_MISSING: &str = "[[op]]\ntype = \"create_index\"\ntable = \"users\"\nname = \"users_email_idx\"\ncolumns = [\"email\"]\n";

#[test]
fn removed_expansion_offered_resume_and_abort() {
    // After the deploy removed the failed expansion again, its message
    // still said "run the same command again to resume, or `hoist db abort`".
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_email_idx.toml", INDEX_ON_MISSING)], "");
    shop.deploy(&one);

    let failed = shop.deploy_refused(&two);
    let (kind, message, hint) = error_of(&failed);
    assert_eq!(kind, "expand-failed", "{failed}");
    assert!(
        !message.contains("to resume") && !message.contains("or `hoist db abort` to undo"),
        "{failed}"
    );
    assert!(
        (message.contains("was removed again") || message.contains("nothing of"))
            && hint.contains("fix `0002_email_idx` and deploy again"),
        "{failed}"
    );
}

#[test]
fn unabortable_expansion_was_offered_db_abort_everywhere() {
    // With an `sql` op without `down` open, `db status` and the `db
    // complete` refusal offered `hoist db abort`, which was then refused
    // (`cannot-abort`, hint null, "restore the history" never explained).
    let shop = Shop::new();
    let (v1, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_invoices.toml", SQL_NO_DOWN)], "");
    shop.deploy(&one);
    let before = shop.database();
    shop.deploy(&two);
    shop.env.hoist().args(["rollback", "--to", &v1]).run();

    let status = shop.env.hoist().args(["db", "status"]).run();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    let next = status
        .lines()
        .find(|line| line.trim_start().starts_with("next"))
        .unwrap_or_default();
    assert!(
        !next.contains("`hoist db abort` gives") && next.contains("cannot give"),
        "{status}"
    );
    let refused = shop
        .env
        .hoist()
        .args(["db", "complete", "--json"])
        .code(1)
        .run_json();
    let (kind, _, hint) = error_of(&refused);
    assert_eq!(kind, "contract-refused", "{refused}");
    assert!(
        !hint.contains("give the new shape up with `hoist db abort`"),
        "{refused}"
    );
    let refused = shop
        .env
        .hoist()
        .args(["db", "abort", "--json"])
        .code(1)
        .run_json();
    let (kind, message, hint) = error_of(&refused);
    assert_eq!(kind, "cannot-abort", "{refused}");
    assert!(
        message.contains("op 1 (`sql`)") && message.contains("hoist db abort --sql-undone"),
        "{refused}"
    );
    assert!(hint.contains("hoist db abort --sql-undone"), "{refused}");
    // The way out it names works: the op undone by hand, then abort.
    shop.sql("DROP TABLE invoices");
    shop.env.hoist().args(["db", "abort", "--sql-undone"]).run();
    assert_eq!(shop.database(), before, "as before the expansion");
}

#[test]
fn migration_number_taken_at_deploy_had_no_hint_and_the_sealed_path() {
    // A second `0002` at deploy was kind `candidate-failed` with hint null,
    // named by `<site>/releases/<id>/migrations/...`.
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let invoices = [
        ("0002_invoices.up.sql", "CREATE TABLE invoices (id int);\n"),
        ("0002_invoices.down.sql", "DROP TABLE invoices;\n"),
    ];
    let (_, two) = shop.build("2", &invoices, "");
    let (v3, three) = shop.build(
        "3",
        &[("0002_orders.up.sql", "CREATE TABLE orders (id int);\n")],
        "",
    );
    shop.deploy(&one);
    shop.deploy(&two);

    let refused = shop.deploy_refused(&three);
    let (kind, message, hint) = error_of(&refused);
    assert_eq!(kind, "migration-number-taken", "{refused}");
    assert!(
        message.contains(&format!(
            "`migrations/0002_orders.up.sql` in release `{v3}`"
        )) && !message.contains("releases/"),
        "{refused}"
    );
    assert!(
        hint.contains("0002_orders") && hint.contains("hoist build"),
        "{refused}"
    );
}

#[test]
fn migration_invalid_had_no_hint() {
    // `migration-invalid` (a malformed `.toml`) came with hint null.
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.write("migrations/0002_x.toml", "[[op]]\ntype = \"bogus\"\n");
    let refused = env.hoist().args(["build", "--json"]).code(1).run_json();
    let (kind, _, hint) = error_of(&refused);
    assert_eq!(kind, "migration-invalid", "{refused}");
    assert!(hint.contains("hoist build"), "{refused}");
}

#[test]
fn recover_of_a_killed_db_complete_said_only_finished_it() {
    // After `hoist recover` finished a `db complete` killed mid-way, its
    // report was "finished it": nothing of what it renamed or rebased.
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let (v2, two) = shop.build("2", &[("0002_rename_name.toml", RENAME)], "");
    shop.deploy(&one);
    shop.deploy(&two);
    shop.env.kill_at(&["db", "complete"], "expand-completing");

    let recovered = shop.env.hoist().arg("recover").run();
    let text = String::from_utf8_lossy(&recovered.stdout).into_owned();
    assert!(
        text.contains("completed") && text.contains("0002_rename_name"),
        "{text}"
    );
    assert!(text.contains("renamed"), "{text}");
    assert!(
        text.contains(&format!("`{v2}` starts on the base schema")),
        "{text}"
    );
}

#[test]
fn rollback_with_db_of_a_not_null_column_reported_nothing_dropped() {
    // `rollback --with-db --json` said `"dropped": []` though it dropped
    // `_hoist_new_plan` and the trigger. (No NOT NULL check: contract
    // makes that.)
    let shop = Shop::new();
    let (_, one) = shop.build("1", &[], "");
    let (_, two) = shop.build("2", &[("0002_plan.toml", PLAN)], "");
    shop.deploy(&one);
    shop.deploy(&two);

    let rolled = shop
        .env
        .hoist()
        .args(["rollback", "--with-db", "--json"])
        .run_json();
    let dropped = &rolled["expansion_aborted"]["dropped"];
    let names: Vec<&str> = dropped
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str())
        .collect();
    assert!(
        names.contains(&"users._hoist_new_plan")
            && !names.iter().any(|name| name.ends_with("(check)"))
            && names.iter().any(|name| name.ends_with("(trigger)")),
        "{rolled}"
    );
}
