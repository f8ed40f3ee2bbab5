//! Checks may add files to a release, never change what its artifact
//! ships: a check that writes a shipped file (which may be hard-linked
//! from the live release) is refused, and a live release it reached through
//! the shared inode is put back. Dedup carries a file only with the mode
//! its manifest gives it.

mod util;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use util::Env;

const MODIFYING_CHECK: &str = r#"
[app]
name = "shop"
version = "1.0.0"
[deploy]
root = "../site"
keep_releases = 5
shared = ["log/"]
checks = ["sh modify.sh"]
"#;

fn deploy_v1(env: &Env) -> String {
    env.write("README", "readme\n");
    env.write("modify.sh", "true\n");
    let (v1, artifact) = env.build();
    env.hoist().arg("deploy").arg(artifact).run();
    v1
}

// A failing check appended to `README`, hard-linked from the live release:
// the live file changed, and the error said "the live release is unchanged".
#[test]
fn check_wrote_into_live_release_through_hard_link() {
    let env = Env::with_config(MODIFYING_CHECK);
    let v1 = deploy_v1(&env);
    env.write("modify.sh", "echo INJECTED >> README\nexit 1\n");
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    // Isolated (an overlay over the release) where hoist can mount one.
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("check `sh modify.sh` changed `README`, which the artifact ships")
        .stderr_has("checks may add files, not change shipped ones")
        .run();
    assert_eq!(env.live(), Some(v1.clone()));
    assert_eq!(env.read_current("README"), "readme\n");
    assert_eq!(env.verify(&v1).0["clean"], true);
    assert!(!env.release_dir(&v2).exists());

    // Without isolation the write reaches the live inode: it is found,
    // put back from the kept artifact, and said so.
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .env("HOIST_ISOLATE_CHECKS", "0")
        .code(1)
        .stderr_has("check `sh modify.sh` changed `README`, which the artifact ships")
        .stderr_has(&format!("shared with the live release `{v1}`"))
        .stderr_has(&format!("hoist put it back from `{v1}`'s artifact"))
        .run();
    assert_eq!(env.live(), Some(v1.clone()));
    assert_eq!(env.read_current("README"), "readme\n");
    assert_eq!(env.verify(&v1).0["clean"], true);
    assert!(!env.release_dir(&v2).exists());

    // Succeeding after the write is no better; without a kept artifact the
    // damage is named with the command that puts it back.
    env.write("modify.sh", "echo INJECTED >> README\n");
    env.set_version("3.0.0");
    let (_, artifact) = env.build();
    std::fs::remove_file(env.site().join("incoming").join(format!("{v1}.tar.zst"))).unwrap();
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .env("HOIST_ISOLATE_CHECKS", "0")
        .code(1)
        .stderr_has("changed `README`, which the artifact ships")
        .stderr_has(&format!(
            "the live release `{v1}`, whose copy is now damaged"
        ))
        .stderr_has(&format!("hoist repair {v1} --artifact FILE"))
        .run();
    assert_eq!(env.live(), Some(v1.clone()));
    assert_eq!(env.verify(&v1).0["clean"], false);
}

// A check that rewrote a shipped file written fresh from the artifact
// deployed with exit 0, and the release then failed `hoist verify`.
#[test]
fn check_changed_shipped_file_deployed_then_failed_verify() {
    let env = Env::with_config(MODIFYING_CHECK);
    let v1 = deploy_v1(&env);
    env.write("README", "readme, second edition\n");
    env.write("modify.sh", "echo INJECTED >> README\n");
    env.set_version("2.0.0");
    let (v2, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("check `sh modify.sh` changed `README`, which the artifact ships")
        .stderr_has("build the change into the artifact")
        .run();
    assert_eq!(env.live(), Some(v1.clone()));
    assert!(!env.release_dir(&v2).exists());
    assert_eq!(env.verify(&v1).0["clean"], true);

    // Removing a shipped file is a change too; adding one is not.
    env.write("modify.sh", "rm index.html\n");
    env.set_version("3.0.0");
    let (_, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("removed `index.html`, which the artifact ships")
        .run();
    env.write("modify.sh", "echo built > cache.txt\n");
    env.set_version("4.0.0");
    let (v4, artifact) = env.build();
    env.hoist().arg("deploy").arg(&artifact).run();
    assert_eq!(env.verify(&v4).0["clean"], true);
}

// Isolated checks: a write to a shipped file never reaches the live
// inode (its stat is unchanged), and what checks add, change and remove
// among their own outputs lands in the release.
#[test]
fn isolated_check_never_wrote_live_inode() {
    let env = Env::with_config(MODIFYING_CHECK);
    let v1 = deploy_v1(&env);
    let live_readme = env.site().join("current/README");
    // Not ctime: linking the inode into the new release moves that.
    let stat = |path: &std::path::Path| {
        let metadata = std::fs::metadata(path).unwrap();
        let mtime = (metadata.mtime(), metadata.mtime_nsec());
        (metadata.ino(), metadata.len(), mtime, metadata.mode())
    };
    let before = stat(&live_readme);
    env.write("modify.sh", "chmod 0644 README; echo INJECTED >> README\n");
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    let output = env
        .hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("changed `README`, which the artifact ships")
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("without isolation") {
        eprintln!("no overlayfs or mount namespace here: covered by the test above");
        return;
    }
    assert!(stderr.contains("the live release is unchanged"), "{stderr}");
    assert_eq!(
        stat(&live_readme),
        before,
        "the live inode was never written"
    );

    env.write(
        "modify.sh",
        "mkdir -p cache && echo a > cache/a && echo gone > gen.txt && sh step2.sh\n",
    );
    env.write(
        "step2.sh",
        "rm gen.txt && echo b > cache/b && ln -s cache/a link\n",
    );
    env.set_version("3.0.0");
    let (v3, artifact) = env.build();
    env.hoist().arg("deploy").arg(&artifact).run();
    let release = env.release_dir(&v3);
    assert_eq!(
        std::fs::read_to_string(release.join("cache/b")).unwrap(),
        "b\n"
    );
    assert_eq!(
        std::fs::read_link(release.join("link")).unwrap(),
        PathBuf::from("cache/a")
    );
    assert!(!release.join("gen.txt").exists());
    let verified = env.verify(&v3).0;
    assert_eq!(verified["clean"], true, "{verified}");
    let leftovers: Vec<String> = std::fs::read_dir(env.site().join("releases"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "scratch dirs left: {leftovers:?}");
    assert_eq!(stat(&live_readme).0, before.0);
    assert_eq!(env.live(), Some(v3));
    let _ = v1;
}

// `chmod 444` on a live 0555 script, then a deploy changing another file:
// "linked: 3 unchanged", exit 0, and the new release lost its `+x`.
#[test]
fn chmod_on_live_file_carried_into_next_release() {
    let env = Env::new();
    env.write("script/app.pl", "#!/usr/bin/perl\nprint 1;\n");
    let script = env.src().join("script/app.pl");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (v1, artifact) = env.build();
    env.hoist().arg("deploy").arg(artifact).run();
    let live_script = env.site().join("current/script/app.pl");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&live_script), 0o555);
    std::fs::set_permissions(&live_script, std::fs::Permissions::from_mode(0o444)).unwrap();

    env.set_version("2.0.0");
    env.write("index.html", "<h1>shop 2</h1>\n");
    let (v2, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(artifact)
        .stderr_has(&format!(
            "1 file in `{v1}` no longer matched its manifest (`script/app.pl`)"
        ))
        .run();
    let new_script = env.release_dir(&v2).join("script/app.pl");
    assert_eq!(mode(&new_script), 0o555, "the new release keeps its +x");
    let inode = |path: &std::path::Path| std::fs::metadata(path).unwrap().ino();
    assert_ne!(
        inode(&new_script),
        inode(&env.release_dir(&v1).join("script/app.pl"))
    );
    assert_eq!(env.verify(&v2).0["clean"], true);

    let damaged = env.verify(&v1).0;
    assert_eq!(damaged["clean"], false, "{damaged}");
    assert_eq!(
        damaged["mode"][0]["path"], "script/app.pl",
        "a mode-only change is reported as such: {damaged}"
    );
    let shown = env.hoist().args(["verify", "--release", &v1]).code(1).run();
    assert!(
        String::from_utf8_lossy(&shown.stdout)
            .contains("mode changed: script/app.pl 0444, shipped 0555"),
        "{}",
        String::from_utf8_lossy(&shown.stdout)
    );
    env.hoist().args(["repair", &v1]).run();
    assert_eq!(mode(&env.release_dir(&v1).join("script/app.pl")), 0o555);
    assert_eq!(env.verify(&v1).0["clean"], true);
}

// Where no overlay can be mounted (here: a site path overlayfs cannot take,
// as for a non-root user), checks run as before, detection stands in, and
// the deploy says so once.
#[test]
fn checks_fall_back_to_detection_where_no_overlay_mounts() {
    let env = Env::with_config(&MODIFYING_CHECK.replace(
        r#"checks = ["sh modify.sh"]"#,
        r#"checks = ["true", "sh modify.sh"]"#,
    ));
    std::fs::write(
        env.src().join("hoist.toml"),
        std::fs::read_to_string(env.src().join("hoist.toml"))
            .unwrap()
            .replace(r#"root = "../site""#, r#"root = "../si,te""#),
    )
    .unwrap();
    env.write("README", "readme\n");
    env.write("modify.sh", "true\n");
    let (v1, artifact) = env.build();
    env.hoist().arg("deploy").arg(artifact).run();
    env.write("modify.sh", "echo INJECTED >> README\n");
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    let output = env
        .hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("checks run without isolation here")
        .stderr_has(&format!("hoist put it back from `{v1}`'s artifact"))
        .run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("without isolation").count(), 1, "{stderr}");
    let site = env.dir.path().join("si,te");
    assert_eq!(
        std::fs::read_to_string(site.join("current/README")).unwrap(),
        "readme\n"
    );
}
