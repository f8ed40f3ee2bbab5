//! Shipping a release to a host through the real `hoist fleet need` and
//! `hoist fleet receive`, over pipes as ssh would carry them: the first
//! ship sends every file, a second that changes 10 files of ~1,000 sends
//! those 10, a cut transfer resumes with what it lacks, and every
//! assembled artifact deploys.

mod util;

use hoist_store::depot::{wire, Need, Received};
use hoist_store::Artifact;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use util::{Env, BIN};

const FILES: usize = 1000;

/// Writes the app's ~1,000 files of ~2 KB; those in `changed` get `version`'s text.
fn write_files(env: &Env, version: &str, changed: std::ops::Range<usize>) {
    util::write_seeded_files(env, FILES, 32, version, changed, |index| {
        format!("lib/m{:02}/f{index}.txt", index % 40)
    });
}

/// Builds `version`; (id, artifact).
fn build(env: &Env, version: &str, changed: std::ops::Range<usize>) -> (String, PathBuf) {
    env.set_version(version);
    write_files(env, version, changed);
    env.build()
}

/// `hoist --json --root HOST fleet ARGS` with `input` on stdin: (exit code, stdout JSON).
fn fleet(host: &Path, args: &[&str], input: &[u8]) -> (Option<i32>, serde_json::Value) {
    let mut child = Command::new(BIN)
        .args(["--json", "--root"])
        .arg(host)
        .arg("fleet")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The host may stop reading early (a refusal); its answer says why.
    let _ = child.stdin.take().unwrap().write_all(input);
    let output = child.wait_with_output().unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "`fleet {}` printed no JSON ({error}): {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), json)
}

fn need(host: &Path, artifact: &Artifact) -> Need {
    let (code, json) = fleet(host, &["need"], &artifact.manifest().to_json());
    assert_eq!(code, Some(0), "{json}");
    serde_json::from_value(json).unwrap()
}

/// The transfer stream of `missing`, as the deploying machine makes it.
fn stream(artifact: &Artifact, missing: &[String]) -> Vec<u8> {
    let digests: HashSet<String> = missing.iter().cloned().collect();
    let mut bytes = Vec::new();
    wire::write_stream(artifact, wire::ManifestBy::Digest, &digests, &mut bytes).unwrap();
    bytes
}

fn receive(host: &Path, input: &[u8]) -> Received {
    let (code, json) = fleet(host, &["receive"], input);
    assert_eq!(code, Some(0), "{json}");
    serde_json::from_value(json).unwrap()
}

/// Ships `artifact` as `hoist_fleet::ship` does; (received, bytes sent).
fn ship(host: &Path, artifact: &Artifact) -> (Received, u64) {
    let asked = need(host, artifact);
    let manifest = wire::manifest_for_need(artifact.manifest());
    let stream = stream(artifact, &asked.missing);
    let received = receive(host, &stream);
    (received, (manifest.len() + stream.len()) as u64)
}

fn deploy(env: &Env, artifact: &Path) {
    env.hoist().arg("deploy").arg(artifact).run();
}

#[test]
fn second_ship_sends_only_the_changed_files_and_a_cut_one_resumes() {
    let env = Env::new();
    // The host's site is the one `hoist.toml` names, so deploy needs no `site.toml`.
    let host = env.site();
    // What `hoist setup --stage` leaves on a new host.
    std::fs::create_dir_all(host.join("releases")).unwrap();

    let (first_id, first_path) = build(&env, "1", 0..0);
    let first = Artifact::open(&first_path, u64::MAX).unwrap();
    let (received, first_sent) = ship(&host, &first);
    let first_bytes = std::fs::metadata(&first_path).unwrap().len();
    assert!(
        first_sent < first_bytes + first_bytes / 10,
        "first ship sent {first_sent}"
    );
    let files = first.manifest().file_count() as u64;
    assert!(received.received_files >= files - 1, "{received:?}"); // the app's files, index.html, hoist.toml
    let remote = received.artifact.expect("assembled");
    assert_eq!(
        remote,
        host.join("fleet").join(format!("{first_id}.tar.zst"))
    );
    assert_eq!(
        std::fs::read(&remote).unwrap(),
        std::fs::read(&first_path).unwrap()
    );
    deploy(&env, &remote);
    assert_eq!(
        env.hoist()
            .arg("--root")
            .arg(&host)
            .args(["status", "--json"])
            .run_json()["live"],
        first_id.as_str()
    );

    let (second_id, second_path) = build(&env, "2", 100..110);
    let second = Artifact::open(&second_path, u64::MAX).unwrap();
    let asked = need(&host, &second);
    // The 10 changed files, and hoist.toml whose version changed.
    assert_eq!(asked.missing.len(), 11, "{asked:?}");
    let (received, second_sent) = ship(&host, &second);
    assert_eq!(received.received_files, 11);
    let artifact_bytes = std::fs::metadata(&second_path).unwrap().len();
    eprintln!(
        "artifact {artifact_bytes} bytes, {files} files; first ship sent {first_sent} bytes, second {second_sent} bytes"
    );
    // The manifest once (compressed), then the 11 files (compressed too):
    // with ~2 KB files the manifest is most of it; nothing else goes.
    let manifest = wire::manifest_for_need(second.manifest()).len() as u64;
    assert!(
        second_sent < manifest + asked.missing_bytes + 4096 && second_sent * 20 < artifact_bytes,
        "second ship sent {second_sent} of {artifact_bytes} (manifest {manifest}, files {})",
        asked.missing_bytes
    );
    let remote = received.artifact.expect("assembled");
    assert_eq!(
        std::fs::read(&remote).unwrap(),
        std::fs::read(&second_path).unwrap()
    );
    assert!(
        !host
            .join("fleet")
            .join(format!("{first_id}.tar.zst"))
            .exists(),
        "the old assembled artifact is tidied"
    );
    deploy(&env, &remote);

    // A third release, its transfer cut halfway: what arrived stays.
    let (third_id, third_path) = build(&env, "3", 0..400);
    let third = Artifact::open(&third_path, u64::MAX).unwrap();
    let asked = need(&host, &third);
    assert_eq!(asked.missing.len(), 401);
    let whole = stream(&third, &asked.missing);
    let (code, json) = fleet(&host, &["receive"], &whole[..whole.len() / 2]);
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["error"]["kind"], "ship-cut", "{json}");
    let rest = need(&host, &third);
    assert!(
        rest.missing.len() > 100 && rest.missing.len() < 300,
        "about half is left: {}",
        rest.missing.len()
    );
    assert!(rest
        .missing
        .iter()
        .all(|digest| asked.missing.contains(digest)));
    let received = receive(&host, &stream(&third, &rest.missing));
    assert_eq!(received.received_files as usize, rest.missing.len());
    let remote = received.artifact.expect("assembled");
    deploy(&env, &remote);
    let status = env
        .hoist()
        .arg("--root")
        .arg(&host)
        .args(["status", "--json"])
        .run_json();
    assert_eq!(status["live"], third_id.as_str());
    let _ = second_id;
}

#[test]
fn receive_refuses_a_name_that_is_not_a_digest() {
    let env = Env::new();
    let host = env.dir.path().join("host");
    std::fs::create_dir_all(host.join("releases")).unwrap();
    let (_, path) = env.build();
    let artifact = Artifact::open(&path, u64::MAX).unwrap();
    let mut tar = tar::Builder::new(zstd::Encoder::new(Vec::new(), 1).unwrap());
    let json = artifact.manifest().to_json();
    for (name, bytes) in [
        (wire::MANIFEST_ENTRY, json.as_slice()),
        ("../../../escape", b"x".as_slice()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        tar.append(&header, bytes).unwrap();
    }
    let input = tar.into_inner().unwrap().finish().unwrap();
    let (code, json) = fleet(&host, &["receive"], &input);
    assert_eq!(code, Some(1));
    assert_eq!(json["error"]["kind"], "digest-invalid", "{json}");
    assert!(!env.dir.path().join("escape").exists());
}
