//! Every kind of bad input exits non-zero with a message naming the problem,
//! and the live release stays untouched.

mod util;

use hoist_store::{Entry, EntryKind};
use std::path::Path;
use util::craft::{craft, file, file_entry, Raw};
use util::tmpfs::Tmpfs;
use util::Env;

/// Deploys v1, then runs `deploy artifact` expecting failure with `message`;
/// checks the live release and the outside world are untouched.
#[track_caller]
fn refused(env: &Env, artifact: &Path, message: &str) {
    let live = env.live().expect("v1 is live");
    env.hoist()
        .arg("deploy")
        .arg(artifact)
        .code(1)
        .stderr_has(message)
        .run();
    assert_eq!(env.live().as_deref(), Some(live.as_str()));
    env.hoist().arg("verify").run();
    let names: Vec<String> = std::fs::read_dir(env.site().join("releases"))
        .unwrap()
        .map(|item| item.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [live], "only the live release remains");
    assert!(env.status()["pending"].is_null());
    assert!(
        !env.dir.path().join("evil").exists(),
        "something was written outside the site"
    );
}

fn env_with_v1() -> Env {
    let env = Env::new();
    env.deploy_version("1.0.0");
    env
}

#[test]
fn truncated_artifact() {
    let env = env_with_v1();
    env.set_version("2.0.0");
    env.write("big.bin", &"x".repeat(200_000));
    let (_, artifact) = env.build();
    let bytes = std::fs::read(&artifact).unwrap();
    std::fs::write(&artifact, &bytes[..bytes.len() / 2]).unwrap();
    refused(&env, &artifact, "is corrupt or truncated");
}

#[test]
fn corrupt_artifact() {
    let env = env_with_v1();
    env.set_version("2.0.0");
    let noise: String = (0..100_000u32)
        .map(|i| char::from(b'a' + (i.wrapping_mul(2654435761) >> 27) as u8 % 26))
        .collect();
    env.write("big.txt", &noise);
    let (_, artifact) = env.build();
    let mut bytes = std::fs::read(&artifact).unwrap();
    // A run of bytes, not one: a single flip can land in tar header fields
    // hoist never reads (mtime, uname), leaving a payload that still verifies.
    let middle = bytes.len() * 3 / 4;
    for byte in &mut bytes[middle..middle + 256] {
        *byte ^= 0xff;
    }
    std::fs::write(&artifact, &bytes).unwrap();
    refused(&env, &artifact, "artifact");
}

#[test]
fn digest_mismatch() {
    let env = env_with_v1();
    let artifact = craft(
        env.dir.path(),
        vec![file_entry("a.txt", b"good")],
        vec![file("a.txt", b"evil")],
    );
    refused(
        &env,
        &artifact,
        "`a.txt` does not match its manifest digest",
    );
}

#[test]
fn absolute_path() {
    let env = env_with_v1();
    let artifact = craft(
        env.dir.path(),
        vec![file_entry("a.txt", b"x")],
        vec![file("/tmp/evil", b"x")],
    );
    refused(&env, &artifact, "has an absolute path");
}

#[test]
fn dot_dot_path_in_tar_and_in_manifest() {
    let env = env_with_v1();
    let artifact = craft(
        env.dir.path(),
        vec![file_entry("a.txt", b"x")],
        vec![file("../../evil", b"x")],
    );
    refused(&env, &artifact, "has a `..` component");
    let artifact = craft(
        env.dir.path(),
        vec![file_entry("../../evil", b"x")],
        vec![file("../../evil", b"x")],
    );
    refused(&env, &artifact, "has a `..` component");
}

#[test]
fn symlink_pointing_outside() {
    let env = env_with_v1();
    let link = Entry {
        path: "evil".into(),
        kind: EntryKind::Symlink,
        mode: 0o777,
        size: 0,
        blake3: None,
        target: Some("../..".into()),
    };
    let raw = Raw {
        name: "evil".into(),
        kind: tar::EntryType::Symlink,
        data: Vec::new(),
        link: Some("../..".into()),
    };
    let artifact = craft(env.dir.path(), vec![link], vec![raw]);
    refused(&env, &artifact, "entry `evil` leads outside the release");
    // A link the manifest does not declare is refused as well.
    let raw = Raw {
        name: "evil".into(),
        kind: tar::EntryType::Symlink,
        data: Vec::new(),
        link: Some("/etc".into()),
    };
    let artifact = craft(env.dir.path(), vec![file_entry("a.txt", b"x")], vec![raw]);
    refused(&env, &artifact, "`evil` is not listed in the manifest");
}

#[test]
fn device_file() {
    let env = env_with_v1();
    let raw = Raw {
        name: "null".into(),
        kind: tar::EntryType::Char,
        data: Vec::new(),
        link: None,
    };
    let artifact = craft(env.dir.path(), vec![file_entry("null", b"")], vec![raw]);
    refused(&env, &artifact, "is a device file");
}

#[test]
fn unpacked_size_over_the_limit() {
    let env = Env::with_config(&format!(
        "{}max_release_size = \"1 KiB\"\n",
        util::DEFAULT_CONFIG
    ));
    env.deploy_version("1.0.0");
    env.write("big.bin", &"x".repeat(4096));
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    refused(&env, &artifact, "over the limit of 1024");
}

#[test]
fn missing_shared_file() {
    let config = util::DEFAULT_CONFIG.replace(
        "shared = [\"log/\"]",
        "shared = [\"log/\", \"config/secrets.env\"]",
    );
    let env = Env::new();
    env.deploy_version("1.0.0");
    std::fs::write(env.src().join("hoist.toml"), &config).unwrap();
    env.set_version("2.0.0");
    let (_, artifact) = env.build();
    let expected = env.site().join("shared/config/secrets.env");
    refused(
        &env,
        &artifact,
        &format!(
            "shared file `config/secrets.env` is missing: create `{}`",
            expected.display()
        ),
    );
    // With the secret in place the deploy goes through, and the link resolves to it.
    std::fs::create_dir_all(expected.parent().unwrap()).unwrap();
    std::fs::write(&expected, "TOKEN=1\n").unwrap();
    env.hoist().arg("deploy").arg(&artifact).run();
    assert_eq!(env.read_current("config/secrets.env"), "TOKEN=1\n");
    env.hoist().arg("verify").run();
}

#[test]
fn bad_config_names_key_and_line() {
    let env = env_with_v1();
    let live = std::fs::read_link(env.site().join("current")).unwrap();
    std::fs::write(
        env.src().join("hoist.toml"),
        format!("{}keep_release = 3\n", util::DEFAULT_CONFIG),
    )
    .unwrap();
    env.hoist()
        .arg("deploy")
        .code(1)
        .stderr_has("unknown field `keep_release`")
        .stderr_has("line 10")
        .run();
    // Read commands refuse the bad config too rather than guess.
    env.hoist()
        .arg("status")
        .code(1)
        .stderr_has("`keep_release`")
        .run();
    assert_eq!(
        std::fs::read_link(env.site().join("current")).unwrap(),
        live
    );
}

#[test]
fn full_disk() {
    let env = Env::new();
    let Some(_disk) = Tmpfs::mount(&env.site(), "size=4m") else {
        eprintln!("full_disk: cannot mount tmpfs here (not root); skipped");
        return;
    };
    env.deploy_version("1.0.0");
    env.set_version("2.0.0");
    let noise: String = (0..8_000_000u32)
        .map(|i| char::from(b'a' + (i.wrapping_mul(2654435761) >> 27) as u8 % 26))
        .collect();
    env.write("big.txt", &noise);
    let (_, artifact) = env.build();
    refused(&env, &artifact, "not enough disk space");
}
