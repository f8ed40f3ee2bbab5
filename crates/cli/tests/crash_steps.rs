//! `kill -9` of `hoist` at every step of every operation, then `hoist
//! recover`: the steps crash.rs does not reach (migrations, the pause, a
//! held candidate, switching back, pruning, promote, restart, abort), and
//! the test that every [`Step`] and every [`Op`] is covered by one of them
//! (`db complete` and `db abort`: expand_commands.rs).

mod util;

use hoist_site::{Op, Step};
use std::os::unix::fs::PermissionsExt;
use util::agent_process::{agent_config, free_port, AgentProcess};
use util::http::get;
use util::{Env, HealthServer};

/// Where each step is killed and recovered from. A step added to `Step`
/// without a scenario here fails [`every_step_has_a_crash_scenario`].
const COVERED: &[(Step, &str)] = &[
    (Step::Begin, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Copy, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Verify, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Space, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Unpack, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Shared, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Checks, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Test, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Ready, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Switch, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Restart, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Health, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Record, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Prune, "crash::deploy_killed_at_every_step_recovers"),
    (Step::Prune, "prune_killed_while_removing_recovers"),
    (Step::Migrate, "migrations_killed_at_every_step_recover"),
    (Step::MigratePost, "migrations_killed_at_every_step_recover"),
    (
        Step::MigrateDown,
        "rollback_with_db_killed_while_undoing_finishes_the_rollback",
    ),
    (
        Step::SwitchBack,
        "killed_while_switching_back_recovers_the_old_release",
    ),
    (Step::Pause, "agent_operations_killed_at_every_step_recover"),
    (Step::Hold, "agent_operations_killed_at_every_step_recover"),
    (Step::Data, "data::data_roll_killed_at_every_step_recovers"),
    (
        Step::Reload,
        "data::data_roll_killed_at_every_step_recovers",
    ),
    (Step::Repair, "repair_killed_while_restoring_finishes_it"),
    (
        Step::PreSwitchHook,
        "hooks::hooks_killed_at_every_step_recover",
    ),
    (Step::PostHook, "hooks::hooks_killed_at_every_step_recover"),
    (
        Step::Walk,
        "walk::killed_during_the_walk_recover_recorded_ok_without_walking",
    ),
    (
        Step::Complete,
        "expand_deploy::contract_killed_during_a_deploy_recovers",
    ),
    (
        Step::Complete,
        "expand_commands::db_complete_and_abort_killed_at_every_step_recover",
    ),
    (
        Step::Expand,
        "expand_deploy::expand_killed_at_every_step_recovers",
    ),
    (
        Step::AbortExpand,
        "expand_deploy::rollback_with_db_killed_while_aborting_finishes_it",
    ),
    (
        Step::AbortExpand,
        "expand_commands::db_complete_and_abort_killed_at_every_step_recover",
    ),
];

/// Operations killed by the scenarios above (and in crash.rs, data_reload.rs, data_tie.rs).
const OPS_COVERED: &[(Op, &str)] = &[
    (Op::Deploy, "crash::deploy_killed_at_every_step_recovers"),
    (
        Op::Stage,
        "crash::stage_only_killed_at_every_step_is_cleaned_up",
    ),
    (
        Op::Rollback,
        "crash::rollback_killed_at_every_step_recovers",
    ),
    (
        Op::Rollback,
        "rollback_with_db_killed_while_undoing_finishes_the_rollback",
    ),
    (Op::Hold, "agent_operations_killed_at_every_step_recover"),
    (Op::Promote, "agent_operations_killed_at_every_step_recover"),
    (Op::Abort, "agent_operations_killed_at_every_step_recover"),
    (Op::Restart, "agent_operations_killed_at_every_step_recover"),
    (Op::Prune, "prune_killed_while_removing_recovers"),
    (Op::Repair, "repair_killed_while_restoring_finishes_it"),
    (
        Op::DataRoll,
        "data_reload::a_data_roll_killed_at_each_step_is_recovered",
    ),
    // `hoist_deploy::data_roll` runs both, only the target differs.
    (
        Op::DataRevert,
        "data_reload::a_data_roll_killed_at_each_step_is_recovered",
    ),
    // Runs inside the agent, whose own `kill -9` the agent tests cover; the
    // operation is `hoist rollback`'s code, killed at every step above.
    (
        Op::AutoRollback,
        "crash::rollback_killed_at_every_step_recovers",
    ),
    (
        Op::DbComplete,
        "expand_commands::db_complete_and_abort_killed_at_every_step_recover",
    ),
    (
        Op::DbAbort,
        "expand_commands::db_complete_and_abort_killed_at_every_step_recover",
    ),
];

#[test]
fn every_operation_has_a_crash_scenario() {
    let missing: Vec<Op> = Op::all()
        .filter(|op| !OPS_COVERED.iter().any(|(covered, _)| covered == op))
        .collect();
    assert!(
        missing.is_empty(),
        "no kill -9 scenario for operations {missing:?}: add one, and list it in OPS_COVERED"
    );
}

#[test]
fn every_step_has_a_crash_scenario() {
    let missing: Vec<Step> = Step::all()
        .filter(|step| !COVERED.iter().any(|(covered, _)| covered == step))
        .collect();
    assert!(
        missing.is_empty(),
        "no kill -9 scenario for steps {missing:?}: add one, and list it in COVERED"
    );
}

/// `hoist recover --json`, checked to leave no journal and a clean live release.
fn recover(env: &Env, step: Step) -> serde_json::Value {
    assert_eq!(
        env.status()["pending"]["step"],
        step.as_str(),
        "status names the interrupted step"
    );
    let recovered = env.hoist().args(["recover", "--json"]).run_json();
    assert!(env.status()["pending"].is_null(), "after `{step}`");
    let verified = env.hoist().args(["verify", "--json"]).run_json();
    assert_eq!(verified["clean"], true, "after `{step}`: {verified}");
    recovered
}

#[test]
fn migrations_killed_at_every_step_recover() {
    for step in [Step::Migrate, Step::MigratePost] {
        let env = Env::with_config(&util::sqlite_config(""));
        env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
        let v1 = env.deploy_version("1.0.0");
        env.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
        env.write(
            "migrations/0003_c.up.sql",
            "-- hoist: phase=post\nCREATE TABLE c (id INTEGER);\n",
        );
        env.set_version("2.0.0");
        let (v2, artifact) = env.build();
        env.kill_at(&["deploy", artifact.to_str().unwrap()], step.as_str());
        let recovered = recover(&env, step);
        if step == Step::Migrate {
            // Killed before the switch: v1 stays, and so does its schema.
            assert_eq!(recovered["action"], "cleaned-up");
            assert_eq!(env.live(), Some(v1.clone()));
        } else {
            // Killed after the switch: finished, contract included.
            assert_eq!(recovered["action"], "finished");
            assert_eq!(env.live(), Some(v2.clone()));
            let names = env.applied();
            assert!(
                names.iter().any(|name| name.contains("0003_c")),
                "{names:?}"
            );
        }
        // The site deploys normally afterwards, with the whole schema.
        env.hoist().args(["deploy", "-q"]).arg(&artifact).run();
        assert_eq!(env.live(), Some(v2));
        assert_eq!(env.applied().len(), 3, "after `{step}`");
    }
}

#[test]
fn rollback_with_db_killed_while_undoing_finishes_the_rollback() {
    let env = Env::with_config(&util::sqlite_config(""));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    env.write("migrations/0001_a.down.sql", "DROP TABLE a;\n");
    let v1 = env.deploy_version("1.0.0");
    env.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
    env.write("migrations/0002_b.down.sql", "DROP TABLE b;\n");
    env.deploy_version("2.0.0");
    env.kill_at(&["rollback", "--with-db"], Step::MigrateDown.as_str());
    let recovered = recover(&env, Step::MigrateDown);
    // Once the schema started going back, the rollback is finished.
    assert_eq!(recovered["action"], "finished");
    assert_eq!(env.live(), Some(v1));
    let names = env.applied();
    assert_eq!(names.len(), 1, "only v1's migration stays: {names:?}");
}

#[test]
fn killed_while_switching_back_recovers_the_old_release() {
    let sick = HealthServer::start(500);
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    // v2 ships a health check that fails: the deploy switches back.
    env.write(
        "hoist.toml",
        &format!(
            "{}health = \"{}\"\nhealth_timeout = \"1s\"\n",
            util::DEFAULT_CONFIG,
            sick.url
        ),
    );
    // The health URL is a host setting: the site keeps its own (`site.toml`).
    env.hoist().args(["init", "--site", "--force"]).run();
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    env.kill_at(
        &["deploy", artifact.to_str().unwrap()],
        Step::SwitchBack.as_str(),
    );
    let recovered = recover(&env, Step::SwitchBack);
    assert_eq!(recovered["action"], "finished");
    assert_eq!(env.live(), Some(v1));
    let states = env.releases();
    assert!(
        states.contains(&(v2, "failed".to_owned())),
        "the release that failed its health check is marked: {states:?}"
    );
}

#[test]
fn prune_killed_while_removing_recovers() {
    let env = Env::new();
    for version in ["1.0.0", "2.0.0", "3.0.0"] {
        env.deploy_version(version);
    }
    let live = env.live();
    env.kill_at(&["prune", "--keep", "1"], Step::Prune.as_str());
    let recovered = recover(&env, Step::Prune);
    assert_eq!(recovered["action"], "cleaned-up");
    assert_eq!(env.live(), live);
    env.hoist().args(["prune", "--keep", "1"]).run();
    let left = env.releases();
    assert!(
        left.len() < 3 && left.iter().any(|(_, state)| state == "live"),
        "{left:?}"
    );
}

#[test]
fn repair_killed_while_restoring_finishes_it() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let live = env.live();
    let file = env.site().join("current/lib/app.txt");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&file, "planted\n").unwrap();
    env.kill_at(&["repair"], Step::Repair.as_str());
    // `recover` checks that the live release verifies clean afterwards.
    let recovered = recover(&env, Step::Repair);
    assert_eq!(recovered["action"], "finished");
    assert_eq!(env.live(), live);
    assert_eq!(env.read_current("lib/app.txt"), "app code\n");
}

#[test]
fn agent_operations_killed_at_every_step_recover() {
    let port = free_port();
    let database = "[database]\nurl = \"sqlite://shared/app.db\"\nlock_timeout = \"2s\"\n";
    let env = Env::with_config(&agent_config(port, database));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    let v1 = env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    env.write("migrations/0002_b.up.sql", "CREATE TABLE b (id INTEGER);\n");
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    let artifact = artifact.to_str().unwrap();

    // `--pause`, killed while requests are held: recovery releases them.
    env.kill_at(
        &["deploy", "--pause", "30s", artifact],
        Step::Migrate.as_str(),
    );
    assert!(
        !env.status()["agent"]["pause"].is_null(),
        "the agent holds requests for the killed deploy"
    );
    let recovered = recover(&env, Step::Migrate);
    assert_eq!(recovered["action"], "cleaned-up");
    assert!(
        env.status()["agent"]["pause"].is_null(),
        "recover released the held requests"
    );
    assert_eq!((env.live(), get(port, "/").0), (Some(v1.clone()), 200));

    // Killed as the pause begins.
    env.kill_at(
        &["deploy", "--pause", "30s", artifact],
        Step::Pause.as_str(),
    );
    recover(&env, Step::Pause);
    assert!(env.status()["agent"]["pause"].is_null());
    assert_eq!(env.live(), Some(v1.clone()));

    // `--hold`, killed while the candidate starts: recovery stops it.
    env.kill_at(&["deploy", "--hold", artifact], Step::Hold.as_str());
    recover(&env, Step::Hold);
    assert!(
        env.status()["agent"]["candidate"].is_null(),
        "no candidate left running beside the live release"
    );
    assert_eq!(env.live(), Some(v1));

    // Killed as the agent switches: whatever the agent did, recovery agrees with it.
    env.kill_at(&["deploy", artifact], Step::Switch.as_str());
    let recovered = recover(&env, Step::Switch);
    let live = env.live().unwrap();
    assert_eq!(
        env.status()["agent"]["live"]["release"],
        live.as_str(),
        "`current` and the route agree ({recovered})"
    );
    env.hoist().args(["deploy", "-q", artifact]).run();
    assert_eq!(env.live(), Some(v2.clone()));
    assert_eq!(get(port, "/").0, 200);

    // `restart`, killed as the agent swaps in a fresh process: recorded as
    // interrupted, the same release serves.
    env.kill_at(&["restart"], Step::Switch.as_str());
    recover(&env, Step::Switch);
    assert_eq!((env.live(), get(port, "/").0), (Some(v2.clone()), 200));

    // `promote`, killed as it switches: `current` and the route agree after.
    env.set_version("3.0.0");
    let (v3, held) = env.build();
    env.hoist()
        .args(["deploy", "-q", "--hold"])
        .arg(&held)
        .run();
    env.kill_at(&["promote"], Step::Switch.as_str());
    recover(&env, Step::Switch);
    let live = env.live().unwrap();
    assert!(live == v2 || live == v3, "{live}");
    assert_eq!(env.status()["agent"]["live"]["release"], live.as_str());

    // `abort`, killed as the candidate stops: recovery stops it.
    env.set_version("4.0.0");
    let (_, held) = env.build();
    env.hoist()
        .args(["deploy", "-q", "--hold"])
        .arg(&held)
        .run();
    env.kill_at(&["abort"], Step::Hold.as_str());
    recover(&env, Step::Hold);
    assert!(env.status()["agent"]["candidate"].is_null());
    assert_eq!(env.live(), Some(live));
}

// A migration failing under `deploy --pause` ended the journal, then the
// resume of the held requests wrote it again: every later command asked
// for a `hoist recover` that had nothing to recover.
#[test]
fn failed_migration_under_pause_left_a_journal() {
    let port = free_port();
    let database = "[database]\nurl = \"sqlite://shared/app.db\"\nlock_timeout = \"2s\"\n";
    let env = Env::with_config(&agent_config(port, database));
    env.write("migrations/0001_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    let v1 = env.deploy_version("1.0.0");
    let _agent = AgentProcess::start(&env);
    env.write("migrations/0002_bad.up.sql", "THIS IS NOT SQL;\n");
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    env.hoist()
        .args(["deploy", "--pause", "30s"])
        .arg(&artifact)
        .code(1)
        .stderr_has("migrations failed")
        .run();
    let status = env.status();
    assert!(status["pending"].is_null(), "no journal left: {status}");
    assert!(
        status["agent"]["pause"].is_null(),
        "requests resumed: {status}"
    );
    assert_eq!((env.live(), get(port, "/").0), (Some(v1), 200));
}
