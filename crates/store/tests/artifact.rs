//! Pack and unpack round trips, including the seekable layout.

use hoist_store::{pack, Artifact, PackOptions};
use std::path::Path;

fn tree(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
}

fn options(source: &Path, out: &Path, version: &str) -> PackOptions {
    let mut options = PackOptions::new("shop", source, out);
    options.version = Some(version.into());
    options
}

fn long_name() -> String {
    format!(
        "{}/{}.txt",
        "deeply-nested-directory-name".repeat(3),
        "a-very-long-file-name".repeat(4)
    )
}

#[test]
fn round_trip_with_long_paths_links_and_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    let long = long_name();
    tree(
        &source,
        &[("a.txt", "a"), ("lib/b.txt", "b"), (long.as_str(), "long")],
    );
    std::os::unix::fs::symlink("lib/b.txt", source.join("b-link")).unwrap();
    let packed = pack(&options(&source, &dir.path().join("dist"), "1")).unwrap();
    let artifact = Artifact::open(&packed.artifact, u64::MAX).unwrap();
    let dest = dir.path().join("r1");
    let stats = artifact.unpack(&dest, None, &mut |_| {}).unwrap();
    assert_eq!(stats.files_written, 3);
    assert_eq!(std::fs::read_to_string(dest.join(&long)).unwrap(), "long");
    assert_eq!(
        std::fs::read_link(dest.join("b-link")).unwrap(),
        Path::new("lib/b.txt")
    );
    let drift = hoist_store::verify_tree(
        &dest,
        artifact.manifest(),
        &hoist_store::Generated::default(),
        &[],
    )
    .unwrap();
    assert!(drift.is_clean(), "{drift:?}");
}

#[test]
fn standard_tar_and_zstd_read_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    let long = long_name();
    tree(&source, &[("a.txt", "alpha"), (long.as_str(), "long")]);
    let packed = pack(&options(&source, &dir.path().join("dist"), "1")).unwrap();
    let out = dir.path().join("plain");
    std::fs::create_dir(&out).unwrap();
    let status = std::process::Command::new("tar")
        .args(["-I", "zstd", "-xf"])
        .arg(&packed.artifact)
        .arg("-C")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "alpha");
    assert_eq!(std::fs::read_to_string(out.join(&long)).unwrap(), "long");
    assert!(out.join(hoist_store::MANIFEST_NAME).is_file());
}

#[test]
fn unchanged_files_are_linked_and_changed_ones_written() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    let files: Vec<(String, String)> = (0..50)
        .map(|i| (format!("d/f{i}.txt"), format!("content {i}")))
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    tree(&source, &borrowed);
    let first = pack(&options(&source, &dir.path().join("dist"), "1")).unwrap();
    let one = dir.path().join("r1");
    Artifact::open(&first.artifact, u64::MAX)
        .unwrap()
        .unpack(&one, None, &mut |_| {})
        .unwrap();
    std::fs::write(source.join("d/f7.txt"), "changed").unwrap();
    let second = pack(&options(&source, &dir.path().join("dist"), "2")).unwrap();
    let two = dir.path().join("r2");
    let stats = Artifact::open(&second.artifact, u64::MAX)
        .unwrap()
        .unpack(&two, Some((&one, &first.manifest)), &mut |_| {})
        .unwrap();
    assert_eq!((stats.files_written, stats.files_linked), (1, 49));
    assert_eq!(
        std::fs::read_to_string(two.join("d/f7.txt")).unwrap(),
        "changed"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(two.join("d/f8.txt")).unwrap().ino(),
        std::fs::metadata(one.join("d/f8.txt")).unwrap().ino()
    );
}

// A frame index that points a file at another file's frame must not smuggle content in.
#[test]
fn index_pointing_at_the_wrong_frame_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    tree(&source, &[("a.txt", "aaaa"), ("b.txt", "bbbb")]);
    let packed = pack(&options(&source, &dir.path().join("dist"), "1")).unwrap();
    let mut bytes = std::fs::read(&packed.artifact).unwrap();
    // Index pairs sit before the 16-byte trailer: [manifest, a.txt, b.txt, end].
    let pairs_start = bytes.len() - 16 - 4 * 16;
    let a_pair = pairs_start + 16;
    let b_pair = pairs_start + 32;
    let b: Vec<u8> = bytes[b_pair..b_pair + 16].to_vec();
    bytes[a_pair..a_pair + 16].copy_from_slice(&b);
    std::fs::write(&packed.artifact, &bytes).unwrap();
    let error = Artifact::open(&packed.artifact, u64::MAX)
        .unwrap()
        .unpack(&dir.path().join("r"), None, &mut |_| {})
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`b.txt` sits where the index places `a.txt`"),
        "{error}"
    );
}
