//! `hoist build --from-tarball`: a tarball made by another tool becomes a
//! hoist artifact that keeps its version, and deploys; a hostile one is
//! refused as a hostile artifact is, with nothing written outside.

mod util;

use std::os::unix::fs::PermissionsExt;
use util::craft::{self, Raw};
use util::Env;

/// A `dzil build` style tarball: everything under `DDGC-0.940/`.
fn dzil_tarball(env: &Env) -> std::path::PathBuf {
    let top = env.dir.path().join("dist-src/DDGC-0.940");
    std::fs::create_dir_all(top.join("lib")).unwrap();
    std::fs::create_dir_all(top.join("script")).unwrap();
    std::fs::write(top.join("index.html"), "<h1>ddgc</h1>\n").unwrap();
    std::fs::write(top.join("lib/DDGC.pm"), "package DDGC; 1;\n").unwrap();
    std::fs::write(
        top.join("META.json"),
        r#"{"name": "DDGC", "version": "0.940"}"#,
    )
    .unwrap();
    let script = top.join("script/ddgc_web_fastcgi.pl");
    std::fs::write(&script, "#!/usr/bin/perl\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tarball = env.dir.path().join("DDGC-0.940.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("czf")
        .arg(&tarball)
        .arg("-C")
        .arg(env.dir.path().join("dist-src"))
        .arg("DDGC-0.940")
        .status()
        .unwrap();
    assert!(status.success());
    tarball
}

/// `hoist build --json --strip-components 1 --from-tarball TARBALL`.
fn import_stripped(env: &Env, tarball: &std::path::Path) -> serde_json::Value {
    env.hoist()
        .args([
            "build",
            "--json",
            "--strip-components",
            "1",
            "--from-tarball",
        ])
        .arg(tarball)
        .run_json()
}

#[test]
fn dzil_tarball_becomes_an_artifact_with_its_version_and_deploys() {
    let env = Env::new();
    let tarball = dzil_tarball(&env);
    let built = import_stripped(&env, &tarball);
    let release = built["release"].as_str().unwrap();
    assert!(release.contains("-0.940-"), "{release}");
    assert_eq!(built["files"], 4, "{built}");
    env.hoist()
        .arg("deploy")
        .arg(built["artifact"].as_str().unwrap())
        .run();
    assert_eq!(env.live().as_deref(), Some(release));
    assert_eq!(env.read_current("lib/DDGC.pm"), "package DDGC; 1;\n");
    let script = env.site().join("current/script/ddgc_web_fastcgi.pl");
    let mode = std::fs::metadata(script).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "the script stays executable: {mode:o}");
    env.hoist().arg("verify").run();
    // `--version` overrides what the tarball says.
    let built = env
        .hoist()
        .args([
            "build",
            "--json",
            "--strip-components",
            "1",
            "--version",
            "0.941",
        ])
        .arg("--from-tarball")
        .arg(&tarball)
        .run_json();
    assert!(
        built["release"].as_str().unwrap().contains("-0.941-"),
        "{built}"
    );
}

#[test]
fn hostile_tarballs_are_refused_and_write_nothing_outside() {
    let env = Env::new();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let cases: Vec<(&str, Vec<Raw>, &str)> = vec![
        (
            "dotdot",
            vec![craft::file("../../outside/evil", b"x")],
            "`..`",
        ),
        (
            "absolute",
            vec![craft::file("/tmp/hoist-evil", b"x")],
            "absolute",
        ),
        (
            "through-link",
            vec![
                craft::symlink("link", "../../outside"),
                craft::file("link/evil", b"x"),
            ],
            "lies under `link`, which is not a directory",
        ),
        (
            "escaping-link",
            vec![craft::symlink("escape", "../../../../etc/passwd")],
            "escape",
        ),
        (
            "hard-link",
            vec![Raw {
                name: "passwd".into(),
                kind: tar::EntryType::Link,
                data: Vec::new(),
                link: Some("/etc/passwd".into()),
            }],
            "only files, directories and symlinks",
        ),
        (
            "device",
            vec![Raw {
                name: "dev".into(),
                kind: tar::EntryType::Char,
                data: Vec::new(),
                link: None,
            }],
            "only files, directories and symlinks",
        ),
        (
            "twice",
            vec![craft::file("a", b"1"), craft::file("a", b"2")],
            "twice",
        ),
    ];
    for (name, entries, problem) in cases {
        let tarball = env.dir.path().join(format!("{name}.tar"));
        craft::plain_tar(&tarball, entries);
        let output = env
            .hoist()
            .args(["build", "--json", "--from-tarball"])
            .arg(&tarball)
            .code(1)
            .run();
        let error: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(error["error"]["kind"], "artifact-unsafe", "{name}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(problem), "{name}: {message}");
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!std::path::Path::new("/tmp/hoist-evil").exists());
    // No artifact, and no scratch directory left behind.
    let dist = env.src().join("dist");
    let left: Vec<_> = std::fs::read_dir(&dist)
        .map(|dir| dir.flatten().map(|entry| entry.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn xz_bzip2_and_plain_tarballs_import_and_other_files_are_named() {
    let env = Env::new();
    let tarball = dzil_tarball(&env);
    let plain = env.dir.path().join("DDGC-0.940.tar");
    let status = std::process::Command::new("gzip")
        .arg("-dk")
        .arg(&tarball)
        .status()
        .unwrap();
    assert!(status.success());
    for (tool, extension) in [("xz", "xz"), ("bzip2", "bz2")] {
        let status = std::process::Command::new(tool)
            .arg("-k")
            .arg(&plain)
            .status()
            .unwrap();
        assert!(status.success(), "{tool}");
        let compressed = env.dir.path().join(format!("DDGC-0.940.tar.{extension}"));
        let built = import_stripped(&env, &compressed);
        assert!(
            built["release"].as_str().unwrap().contains("-0.940-"),
            "{built}"
        );
        assert_eq!(built["files"], 4, "{tool}: {built}");
    }
    let built = import_stripped(&env, &plain);
    assert_eq!(built["files"], 4, "{built}");
    let zip = env.dir.path().join("app-1.0.zip");
    std::fs::write(&zip, b"PK\x03\x04 not a tar").unwrap();
    let output = env
        .hoist()
        .args(["build", "--json", "--from-tarball"])
        .arg(&zip)
        .code(1)
        .run();
    let error: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "tarball-unsupported", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains(".tar.xz"),
        "{error}"
    );
}
