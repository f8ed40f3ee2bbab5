//! Verification with a way back, and dedup that cannot spread damage
//! (issue 14, items 1 and 2): what a release's checks write is recorded as
//! generated, a file edited in a live release is never linked into the
//! next one, and `hoist repair` puts a damaged release back from its
//! artifact. Every refusal verification causes names `hoist repair`.

mod util;

use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use util::Env;

/// Checks that write into the release, as `python -m py_compile` and a cache warm-up do.
const WRITING_CHECKS: &str = r#"
[app]
name = "shop"
version = "1.0.0"
[deploy]
root = "../site"
keep_releases = 5
shared = ["log/"]
checks = ["mkdir -p cache && touch cache/x", "mkdir -p __pycache__ && echo bytecode > __pycache__/app.cpython-311.pyc"]
"#;

fn verify(env: &Env, id: &str) -> Value {
    let (json, code) = env.verify(id);
    assert_eq!(
        code,
        Some(if json["clean"] == true { 0 } else { 1 }),
        "{json}"
    );
    json
}

fn build_version(env: &Env, version: &str) -> (String, PathBuf) {
    env.set_version(version);
    env.build()
}

// A check writing `cache/x` and `__pycache__` made the release fail verify
// ("2 extra"), so rollback to it and a redeploy of it were refused, and
// nothing but `chmod` and `rm` inside `releases/` got out.
#[test]
fn checks_writing_into_release_made_verify_a_dead_end() {
    let env = Env::with_config(WRITING_CHECKS);
    let v1 = env.deploy_version("1.0.0");
    let verified = verify(&env, &v1);
    assert_eq!(verified["clean"], true, "{verified}");
    let generated = verified["generated"].as_array().unwrap();
    for path in ["cache", "cache/x", "__pycache__/app.cpython-311.pyc"] {
        assert!(generated.contains(&json!(path)), "{path} in {verified}");
    }
    assert_eq!(verified["extra"], json!([]));

    let (v2, v2_artifact) = build_version(&env, "2.0.0");
    let deployed = env
        .hoist()
        .args(["deploy", "--json"])
        .arg(&v2_artifact)
        .run_json();
    // Unchanged files were linked on their seal stamps alone, none re-read.
    assert_eq!(
        (&deployed["files_linked"], &deployed["files_rehashed"]),
        (&json!(2), &json!(0)),
        "{deployed}"
    );
    env.hoist().args(["rollback", "--to", &v1]).run();
    assert_eq!(env.live(), Some(v1.clone()));
    // A redeploy of a release on disk verifies it instead of unpacking again.
    env.hoist().arg("deploy").arg(&v2_artifact).run();
    assert_eq!(env.live(), Some(v2.clone()));

    // Changed generated content is not what the checks left: it fails
    // verify, as generated, and `hoist repair` removes it.
    util::tamper(&env.release_dir(&v1).join("cache/x"));
    let verified = verify(&env, &v1);
    assert_eq!(
        verified["changed_generated"],
        json!(["cache/x"]),
        "{verified}"
    );
    assert_eq!(verified["changed"], json!([]), "{verified}");
    let repaired = env.hoist().args(["repair", "--json", &v1]).run_json();
    assert_eq!(
        repaired["removed_generated"],
        json!(["cache/x"]),
        "{repaired}"
    );
    assert_eq!(verify(&env, &v1)["clean"], true);
    // A damaged record vouches for nothing, and is no dead end either.
    let record = env.release_dir(&v1).join(".hoist-generated.json");
    std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&record, "{not json").unwrap();
    let verified = verify(&env, &v1);
    assert_eq!(
        verified["changed_generated"],
        json!([".hoist-generated.json"]),
        "{verified}"
    );
    env.hoist().args(["repair", &v1]).run();
    assert_eq!(verify(&env, &v1)["clean"], true);

    env.deploy_version("3.0.0");
    let pruned = env
        .hoist()
        .args(["prune", "--keep", "1", "--json"])
        .run_json();
    assert!(
        pruned["removed"].as_array().unwrap().contains(&json!(v1)),
        "{pruned}"
    );
    assert!(!env.release_dir(&v1).exists());
    assert!(
        !env.site()
            .join("incoming")
            .join(format!("{v1}.tar.zst"))
            .exists(),
        "its kept artifact goes with it"
    );
}

// Root appended a line to `current/lib/app.txt`, then deployed a release in
// which only another file changed: the edited inode was hard-linked into
// the new release as "unchanged", and that release failed verify too.
#[test]
fn tampered_live_file_spread_through_dedup() {
    let env = Env::new();
    env.write("run.sh", "exec ./app\n");
    let (v1, v1_artifact) = build_version(&env, "1.0.0");
    env.hoist().arg("deploy").arg(&v1_artifact).run();
    let live_file = env.site().join("current/lib/app.txt");
    util::tamper(&live_file);

    env.write("run.sh", "exec ./app --fast\n");
    let (v2, v2_artifact) = build_version(&env, "2.0.0");
    let output = env
        .hoist()
        .arg("deploy")
        .arg(&v2_artifact)
        .stderr_has(&format!("1 file in `{v1}` no longer matched its manifest"))
        .stderr_has(&format!("hoist verify {v1}"))
        .run();
    assert!(output.status.success());
    assert_eq!(env.live(), Some(v2.clone()));
    assert_eq!(verify(&env, &v2)["clean"], true, "the new release is clean");
    assert_eq!(env.read_current("lib/app.txt"), "app code\n");
    let inode = |id: &str| {
        std::fs::metadata(env.release_dir(id).join("lib/app.txt"))
            .unwrap()
            .ino()
    };
    assert_ne!(inode(&v1), inode(&v2), "the damaged inode was not linked");
    // The unchanged, undamaged file was still linked.
    let index = |id: &str| {
        std::fs::metadata(env.release_dir(id).join("index.html"))
            .unwrap()
            .ino()
    };
    assert_eq!(index(&v1), index(&v2));

    let damaged = verify(&env, &v1);
    assert_eq!(damaged["changed"], json!(["lib/app.txt"]), "{damaged}");
    let repaired = env.hoist().args(["repair", "--json", &v1]).run_json();
    assert_eq!(repaired["replaced"], json!(["lib/app.txt"]), "{repaired}");
    assert_eq!(repaired["clean"], true);
    assert_eq!(verify(&env, &v1)["clean"], true);
    let file_mode = std::fs::metadata(env.release_dir(&v1).join("lib/app.txt"))
        .unwrap()
        .permissions()
        .mode();
    let dir_mode = std::fs::metadata(env.release_dir(&v1).join("lib"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        (file_mode & 0o222, dir_mode & 0o222),
        (0, 0),
        "still sealed read-only"
    );

    // The live release, with the artifact given by hand: `incoming/` has
    // none (as for releases deployed before hoist kept them).
    std::fs::remove_file(env.site().join("incoming").join(format!("{v2}.tar.zst"))).unwrap();
    util::tamper(&env.site().join("current/run.sh"));
    env.hoist()
        .arg("repair")
        .code(1)
        .stderr_has(&format!("hoist repair {v2} --artifact FILE"))
        .run();
    env.hoist()
        .args(["repair", &v2, "--artifact"])
        .arg(&v1_artifact)
        .code(1)
        .stderr_has("is not the one")
        .run();
    let repaired = env
        .hoist()
        .args(["repair", "--json", &v2, "--artifact"])
        .arg(&v2_artifact)
        .run_json();
    assert_eq!(
        (&repaired["replaced"], &repaired["live"]),
        (&json!(["run.sh"]), &json!(true)),
        "{repaired}"
    );
    assert_eq!(verify(&env, &v2)["clean"], true);
    assert_eq!(env.read_current("run.sh"), "exec ./app --fast\n");

    let history = env.hoist().args(["history", "--json"]).run_json();
    let repairs: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["op"] == "repair" && event["outcome"] == "ok")
        .collect();
    assert_eq!(repairs.len(), 2, "{history}");
}

// `hoist rollback` to a damaged release said "deploy its artifact again",
// and deploying it again gave the same refusal: no command got out.
#[test]
fn refusal_of_a_damaged_release_named_no_way_out() {
    let env = Env::new();
    let (v1, v1_artifact) = build_version(&env, "1.0.0");
    env.hoist().arg("deploy").arg(&v1_artifact).run();
    env.deploy_version("2.0.0");
    util::tamper(&env.release_dir(&v1).join("index.html"));
    // As for a release deployed before hoist kept artifacts: the redeploy
    // below keeps the one it was given, so `hoist repair` alone gets out.
    std::fs::remove_file(env.site().join("incoming").join(format!("{v1}.tar.zst"))).unwrap();
    let way_out = format!("hoist repair {v1}");
    env.hoist()
        .args(["rollback", "--to", &v1])
        .code(1)
        .stderr_has(&way_out)
        .run();
    env.hoist()
        .arg("deploy")
        .arg(&v1_artifact)
        .code(1)
        .stderr_has(&way_out)
        .run();
    let verified = env.hoist().args(["verify", &v1]).code(1).run();
    assert!(
        String::from_utf8_lossy(&verified.stdout).contains(&way_out),
        "verify names the way out"
    );
    env.hoist().args(["repair", &v1]).run();
    env.hoist().args(["rollback", "--to", &v1]).run();
    assert_eq!(env.live(), Some(v1));
}
