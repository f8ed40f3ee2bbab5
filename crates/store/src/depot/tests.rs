//! The depot against real artifacts: built, shipped through the wire
//! format in memory, assembled, compared.

use super::wire::{self, ManifestBy, END_ENTRY, MANIFEST_ENTRY};
use super::{check_digest, Depot, ShipError};
use crate::{pack, Artifact, PackOptions};
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let host = Host {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(host.releases()).unwrap();
        host
    }
    fn releases(&self) -> PathBuf {
        self.dir.path().join("releases")
    }
    fn depot(&self) -> Depot {
        Depot::open(&self.dir.path().join("fleet"), &self.releases()).unwrap()
    }
    /// Unpacks `artifact` as `hoist deploy` would leave it.
    fn deploy(&self, artifact: &Artifact) -> PathBuf {
        let dest = self.releases().join(artifact.manifest().release.as_str());
        artifact.unpack(&dest, None, &mut |_| {}).unwrap();
        dest
    }
}

/// A source tree of `count` files, file `changed..` given other contents.
fn source(dir: &Path, count: usize, version: &str, changed: &[usize]) {
    for index in 0..count {
        let body = if changed.contains(&index) {
            format!("file {index} of {version}\n")
        } else {
            format!("file {index}\n").repeat(index % 7 + 1)
        };
        let path = dir.join(format!("lib/{:02}/f{index}.txt", index % 10));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    // Same content at two paths goes over the wire once.
    std::fs::write(dir.join("copy-a.txt"), "twin\n").unwrap();
    std::fs::write(dir.join("copy-b.txt"), "twin\n").unwrap();
    let _ = std::os::unix::fs::symlink("lib/00/f0.txt", dir.join("link.txt"));
}

fn build(work: &Path, version: &str, changed: &[usize]) -> Artifact {
    let src = work.join(format!("src-{version}"));
    source(&src, 60, version, changed);
    let mut options = PackOptions::new("shop", &src, &work.join("out"));
    options.version = Some(version.into());
    options.read_git = false;
    options.created_at = Some("2026-11-22T10:15:00Z".parse().unwrap());
    let packed = pack(&options).unwrap();
    Artifact::open(&packed.artifact, u64::MAX).unwrap()
}

/// The stream a deploying machine sends after `need`.
fn stream(artifact: &Artifact, digests: &[String]) -> Vec<u8> {
    stream_by(artifact, ManifestBy::Digest, digests)
}

fn stream_by(artifact: &Artifact, by: ManifestBy, digests: &[String]) -> Vec<u8> {
    let wanted: HashSet<String> = digests.iter().cloned().collect();
    let mut out = Vec::new();
    let sent = wire::write_stream(artifact, by, &wanted, &mut out).unwrap();
    assert_eq!(sent, wanted.len() as u64);
    out
}

#[test]
fn assembled_artifact_is_the_built_one_byte_for_byte() {
    let work = tempfile::tempdir().unwrap();
    let artifact = build(work.path(), "1", &[]);
    let host = Host::new();
    let depot = host.depot();
    let need = depot.need(artifact.manifest()).unwrap();
    assert_eq!(need.have, 0);
    assert_eq!(need.files, 61, "60 files and one twin pair");
    // The manifest sent whole works as well as by digest.
    let whole = stream_by(&artifact, ManifestBy::Value, &need.missing);
    let received = depot.receive(&mut whole.as_slice(), None).unwrap();
    assert_eq!(received.received_files, 61);
    assert!(received.missing.is_empty());
    let assembled = received.artifact.unwrap();
    assert_eq!(
        std::fs::read(&assembled).unwrap(),
        std::fs::read(artifact.path()).unwrap()
    );
    let reopened = Artifact::open(&assembled, u64::MAX).unwrap();
    assert_eq!(reopened.manifest().digest, artifact.manifest().digest);
    // The parts went into the artifact and are gone; asking again needs nothing.
    assert_eq!(std::fs::read_dir(depot.parts_dir()).unwrap().count(), 0);
    let again = depot.need(artifact.manifest()).unwrap();
    assert!(again.missing.is_empty());
    assert_eq!(again.artifact.as_deref(), Some(assembled.as_path()));
}

#[test]
fn a_deployed_release_supplies_all_but_the_changed_files() {
    let work = tempfile::tempdir().unwrap();
    let first = build(work.path(), "1", &[]);
    let second = build(work.path(), "2", &[3, 17, 42]);
    let host = Host::new();
    host.deploy(&first);
    let depot = host.depot();
    let need = depot.need(second.manifest()).unwrap();
    assert_eq!(need.missing.len(), 3, "{need:?}");
    let received = depot
        .receive(&mut stream(&second, &need.missing).as_slice(), None)
        .unwrap();
    assert_eq!(received.received_files, 3);
    assert_eq!(
        std::fs::read(received.artifact.unwrap()).unwrap(),
        std::fs::read(second.path()).unwrap()
    );
}

#[test]
fn a_damaged_local_copy_is_reported_missing_and_then_sent() {
    let work = tempfile::tempdir().unwrap();
    let first = build(work.path(), "1", &[]);
    let second = build(work.path(), "2", &[3]);
    let host = Host::new();
    let release = host.deploy(&first);
    // Same size, other bytes: only the digest tells.
    let victim = release.join("lib/05/f5.txt");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 1;
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&victim, &bytes).unwrap();
    let victim_digest = second
        .manifest()
        .entry("lib/05/f5.txt")
        .unwrap()
        .blake3
        .clone()
        .unwrap();

    let depot = host.depot();
    let need = depot.need(second.manifest()).unwrap();
    assert_eq!(need.missing.len(), 1, "need trusts the release's manifest");
    let received = depot
        .receive(&mut stream(&second, &need.missing).as_slice(), None)
        .unwrap();
    assert_eq!(received.artifact, None);
    assert_eq!(received.missing, std::slice::from_ref(&victim_digest));
    let leftovers: Vec<_> = std::fs::read_dir(work.path().join("out"))
        .unwrap()
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "nothing but the two built artifacts there"
    );

    let received = depot
        .receive(&mut stream(&second, &[victim_digest]).as_slice(), None)
        .unwrap();
    assert_eq!(
        std::fs::read(received.artifact.unwrap()).unwrap(),
        std::fs::read(second.path()).unwrap()
    );
}

#[test]
fn a_cut_transfer_keeps_what_arrived() {
    let work = tempfile::tempdir().unwrap();
    let artifact = build(work.path(), "1", &[]);
    let host = Host::new();
    let depot = host.depot();
    let need = depot.need(artifact.manifest()).unwrap();
    let whole = stream(&artifact, &need.missing);
    let error = depot
        .receive(&mut &whole[..whole.len() * 2 / 3], None)
        .unwrap_err();
    let ShipError::Cut { received_files, .. } = error else {
        panic!("not a cut: {error}");
    };
    assert!(received_files > 0, "{error}");
    let rest = depot.need(artifact.manifest()).unwrap();
    assert_eq!(rest.missing.len() as u64, need.files - received_files);
    let received = depot
        .receive(&mut stream(&artifact, &rest.missing).as_slice(), None)
        .unwrap();
    assert_eq!(
        std::fs::read(received.artifact.unwrap()).unwrap(),
        std::fs::read(artifact.path()).unwrap()
    );
}

/// A stream with hand-made entries after the manifest.
fn crafted(artifact: &Artifact, entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(zstd::Encoder::new(Vec::new(), 1).unwrap());
    let json = artifact.manifest().to_json();
    let mut all = vec![(MANIFEST_ENTRY, json.as_slice())];
    all.extend_from_slice(entries);
    all.push((END_ENTRY, b""));
    for (name, bytes) in all {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o444);
        // Raw, so names `tar::Builder` would refuse (`..`) still go out.
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        tar.append(&header, bytes).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn names_from_the_wire_must_be_digests_the_manifest_lists() {
    for bad in [
        "../../etc/passwd",
        "",
        "ABCD",
        &"g".repeat(64),
        &"A".repeat(64),
    ] {
        assert!(check_digest(bad).is_err(), "{bad:?}");
    }
    assert!(check_digest(&"0a".repeat(32)).is_ok());

    let work = tempfile::tempdir().unwrap();
    let artifact = build(work.path(), "1", &[]);
    let host = Host::new();
    let depot = host.depot();
    let escape = crafted(&artifact, &[("../../escaped", b"x")]);
    let error = depot.receive(&mut escape.as_slice(), None).unwrap_err();
    assert!(matches!(error, ShipError::BadDigest { .. }), "{error}");
    let unlisted = blake3::hash(b"not in it").to_hex().to_string();
    let stray = crafted(&artifact, &[(&unlisted, b"not in it")]);
    let error = depot.receive(&mut stray.as_slice(), None).unwrap_err();
    assert!(matches!(error, ShipError::Unexpected { .. }), "{error}");
    // A listed digest whose bytes are wrong is not kept.
    let listed = artifact
        .manifest()
        .entry("copy-a.txt")
        .unwrap()
        .blake3
        .clone()
        .unwrap();
    let forged = crafted(&artifact, &[(&listed, b"TWIN\n")]);
    let error = depot.receive(&mut forged.as_slice(), None).unwrap_err();
    assert!(matches!(error, ShipError::Damaged { .. }), "{error}");
    assert_eq!(std::fs::read_dir(depot.parts_dir()).unwrap().count(), 0);
    assert!(!host.dir.path().join("escaped").exists());
}

#[test]
fn too_little_space_is_refused_naming_free_and_needed() {
    let work = tempfile::tempdir().unwrap();
    let artifact = build(work.path(), "1", &[]);
    let host = Host::new();
    let depot = host.depot();
    let need = depot.need(artifact.manifest()).unwrap();
    let error = depot
        .receive(
            &mut stream(&artifact, &need.missing).as_slice(),
            Some(u64::MAX / 2),
        )
        .unwrap_err();
    let ShipError::NoSpace { free, needed, .. } = error else {
        panic!("{error}");
    };
    assert!(needed > free);
    assert!(error_text(&depot, &artifact).contains("bytes free"));
}

fn error_text(depot: &Depot, artifact: &Artifact) -> String {
    let need = depot.need(artifact.manifest()).unwrap();
    depot
        .receive(
            &mut stream(artifact, &need.missing).as_slice(),
            Some(u64::MAX / 2),
        )
        .unwrap_err()
        .to_string()
}

#[test]
fn a_stream_naming_a_manifest_the_host_was_never_sent_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let artifact = build(work.path(), "1", &[]);
    let host = Host::new();
    let depot = host.depot();
    let error = depot
        .receive(&mut stream(&artifact, &[]).as_slice(), None)
        .unwrap_err();
    assert!(matches!(error, ShipError::BadManifest { .. }), "{error}");
    assert!(error.to_string().contains("`need`"), "{error}");
}
