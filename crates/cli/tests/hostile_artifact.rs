//! Issue 12: what a crafted artifact must never do, each found by a
//! hostile-input review and pinned here through the real binary.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use util::craft::{craft_as, dir, dir_entry, file, file_entry, link_entry, symlink};
use util::Env;

/// A site whose config links `config/secrets.env` from `shared/`, as the
/// README shows, with v1 live and the secret in place.
fn site_with_shared_secret() -> Env {
    let config = util::DEFAULT_CONFIG.replace(
        "shared = [\"log/\"]",
        "shared = [\"log/\", \"config/secrets.env\"]",
    );
    let env = Env::with_config(&config);
    let secret = env.site().join("shared/config/secrets.env");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, "TOKEN=1\n").unwrap();
    env.deploy_version("1.0.0");
    env
}

/// `victim/secrets.env/keep` next to the site, where the chain below leads.
fn plant_victim(env: &Env) -> std::path::PathBuf {
    let victim = env.dir.path().join("victim/secrets.env");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep"), "precious").unwrap();
    victim
}

/// The chain: `a/b/c/l -> ../../..` (the release root) and
/// `config -> a/b/c/l/../../../victim` (three levels above it: the site's
/// parent). Each target, read alone as text, stays inside the release.
fn chain_artifact(env: &Env, id: &str, extra: &str) -> std::path::PathBuf {
    let config_target = format!("a/b/c/l/../../../{extra}");
    craft_as(
        env.dir.path(),
        id,
        vec![
            dir_entry("a"),
            dir_entry("a/b"),
            dir_entry("a/b/c"),
            link_entry("a/b/c/l", "../../.."),
            link_entry("config", &config_target),
            file_entry("index.html", b"<h1>evil</h1>"),
        ],
        vec![
            dir("a"),
            dir("a/b"),
            dir("a/b/c"),
            symlink("a/b/c/l", "../../.."),
            symlink("config", &config_target),
            file("index.html", b"<h1>evil</h1>"),
        ],
    )
}

/// Finding 1: with `shared = ["config/secrets.env"]`, a root `hoist deploy`
/// of the chain exited 0 after deleting `victim/secrets.env/` outside the
/// site and planting a symlink in its place.
#[test]
fn symlink_chain_escape_deleted_a_directory_outside_the_site() {
    let env = site_with_shared_secret();
    let victim = plant_victim(&env);
    let live = env.live().unwrap();
    let artifact = chain_artifact(&env, "29990101T000000Z-9.9.9-chain", "victim");
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("entry `config` leads outside the release")
        .run();
    assert!(
        victim.is_dir() && !victim.is_symlink(),
        "the victim dir was replaced"
    );
    assert_eq!(
        std::fs::read_to_string(victim.join("keep")).unwrap(),
        "precious"
    );
    assert_eq!(env.live(), Some(live));
    env.hoist().arg("verify").run();
}

/// Finding 1, second form: the same chain planted live links to files
/// anywhere on the host (`/etc/passwd` from a site at the right depth).
#[test]
fn symlink_chain_planted_live_links_outside_the_release() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let artifact = chain_artifact(&env, "29990101T000000Z-9.9.9-passwd", "etc/passwd");
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("leads outside the release")
        .run();
    let releases: Vec<_> = std::fs::read_dir(env.site().join("releases"))
        .unwrap()
        .collect();
    assert_eq!(releases.len(), 1, "only v1 is on disk");
}

/// Finding 1, defence in depth: a link that stays inside the release
/// (`config -> etc`) still must not carry the shared link into `etc/`.
#[test]
fn shared_link_was_placed_through_an_artifact_symlink() {
    let env = site_with_shared_secret();
    let artifact = craft_as(
        env.dir.path(),
        "29990101T000000Z-9.9.9-inner",
        vec![
            dir_entry("etc"),
            file_entry("etc/secrets.env", b"shipped"),
            link_entry("config", "etc"),
            file_entry("index.html", b"<h1>x</h1>"),
        ],
        vec![
            dir("etc"),
            file("etc/secrets.env", b"shipped"),
            symlink("config", "etc"),
            file("index.html", b"<h1>x</h1>"),
        ],
    );
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .code(1)
        .stderr_has("shared path `config/secrets.env` lies under `config`")
        .run();
    assert!(!env
        .site()
        .join("releases/29990101T000000Z-9.9.9-inner")
        .exists());
}

/// Finding 1, `verify`: a release holding the chain (as an older hoist
/// unpacked it) was reported as matching its manifest.
#[test]
fn verify_said_a_release_with_escaping_links_matches_its_manifest() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let id = "29990101T000000Z-9.9.9-old";
    let artifact = chain_artifact(&env, id, "victim");
    // Unpack it by hand, as the old code did: every entry, links as they are.
    let release = env.site().join("releases").join(id);
    let opened = hoist_store::Artifact::open(&artifact, u64::MAX);
    assert!(opened.is_err(), "the store refuses the chain itself");
    let mut archive =
        tar::Archive::new(zstd::Decoder::new(std::fs::File::open(&artifact).unwrap()).unwrap());
    archive.unpack(&release).unwrap();
    env.hoist().args(["verify", "--release", id]).code(1).run();
    let json = env
        .hoist()
        .args(["verify", "--json", "--release", id])
        .code(1)
        .run();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let escapes = report["escapes"].to_string();
    assert!(
        escapes.contains("`config` leads outside the release"),
        "{report}"
    );
}

/// Finding 11: an artifact file with the setuid bit became
/// `-r-sr-xr-x root` in the release.
#[test]
fn setuid_bit_was_kept_in_the_release() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let mut tool = file_entry("bin/tool", b"#!/bin/sh\n");
    tool.mode = 0o6755;
    let mut bin = dir_entry("bin");
    bin.mode = 0o3755;
    let artifact = craft_as(
        env.dir.path(),
        "29990101T000000Z-9.9.9-suid",
        vec![bin, tool, file_entry("index.html", b"<h1>x</h1>")],
        vec![
            dir("bin"),
            file("bin/tool", b"#!/bin/sh\n"),
            file("index.html", b"<h1>x</h1>"),
        ],
    );
    env.hoist().arg("deploy").arg(&artifact).run();
    let mode = |path: &str| {
        std::fs::symlink_metadata(env.site().join("current").join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("bin/tool"), 0o555);
    assert_eq!(mode("bin"), 0o555);
    env.hoist().arg("verify").run();
}

/// Finding 14c: an artifact reusing the live release id with other
/// content got "already live; nothing changed" and exit 0.
#[test]
fn same_release_id_with_other_content_was_taken_as_already_live() {
    let env = Env::new();
    env.deploy_version("1.0.0");
    let id = "29990101T000000Z-9.9.9-same";
    let version = |text: &[u8]| {
        craft_as(
            env.dir.path(),
            id,
            vec![file_entry("index.html", text)],
            vec![file("index.html", text)],
        )
    };
    env.hoist().arg("deploy").arg(version(b"one")).run();
    // The very same artifact again is a no-op, as before.
    env.hoist().arg("deploy").arg(version(b"one")).run();
    env.hoist()
        .arg("deploy")
        .arg(version(b"two"))
        .code(1)
        .stderr_has(&format!(
            "release `{id}` is already on disk with other content"
        ))
        .run();
    assert_eq!(env.read_current("index.html"), "one");
    // Not live any more, still on disk: refused all the same.
    env.deploy_version("2.0.0");
    env.hoist()
        .arg("deploy")
        .arg(version(b"two"))
        .code(1)
        .stderr_has("already on disk with other content")
        .run();
    assert!(Path::new(&env.site().join("releases").join(id)).is_dir());
}

/// A file edited in place in the live release was hard-linked into the
/// next release as "unchanged", so the edit (a planted line) survived the
/// redeploy meant to remove it, and `verify` then failed on the new release.
#[test]
fn tampered_live_file_spread_into_the_next_release() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let v1 = env.deploy_version("1.0.0");
    let live_file = env.site().join("releases").join(&v1).join("lib/app.txt");
    std::fs::set_permissions(&live_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut text = std::fs::read_to_string(&live_file).unwrap();
    text.push_str("planted line\n");
    std::fs::write(&live_file, &text).unwrap();
    std::fs::set_permissions(&live_file, std::fs::Permissions::from_mode(0o444)).unwrap();
    // Only index.html changes in v2; lib/app.txt is "unchanged" by the manifest.
    env.set_version("2.0.0");
    env.write("index.html", "<h1>shop 2</h1>\n");
    let (_, artifact) = env.build();
    env.hoist()
        .arg("deploy")
        .arg(&artifact)
        .stderr_has("no longer matched its manifest (`lib/app.txt`)")
        .run();
    assert_eq!(env.read_current("lib/app.txt"), "app code\n");
    let inode = |path: &Path| std::fs::metadata(path).unwrap().ino();
    assert_ne!(
        inode(&env.site().join("current/lib/app.txt")),
        inode(&live_file),
        "the new release shares the edited inode"
    );
    env.hoist().arg("verify").run();
    env.hoist().args(["verify", "--release", &v1]).code(1).run();
}
