//! Linking unchanged files from the previous release: proven by the seal
//! stamp when it holds, by the digest when it does not, never on trust.

use hoist_store::{pack, Artifact, PackOptions, Stamps, STAMPS_NAME};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn artifact(dir: &Path, version: &str, files: &[(&str, &str)]) -> Artifact {
    let source = dir.join(format!("src-{version}"));
    for (path, text) in files {
        let full = source.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    let mut options = PackOptions::new("shop", &source, &dir.join("dist"));
    options.version = Some(version.into());
    Artifact::open(&pack(&options).unwrap().artifact, u64::MAX).unwrap()
}

/// Unpacks `artifact` beside `previous` and stamps it, as the stage does before the seal.
fn stage(
    artifact: &Artifact,
    dest: &Path,
    previous: Option<(&Path, &Artifact)>,
) -> hoist_store::UnpackStats {
    let previous = previous.map(|(dir, artifact)| (dir, artifact.manifest()));
    let stats = artifact.unpack(dest, previous, &mut |_| {}).unwrap();
    let tree = hoist_beneath::Dir::open(dest).unwrap();
    let stamps = Stamps::take(&tree, artifact.manifest());
    std::fs::write(dest.join(STAMPS_NAME), stamps.to_json()).unwrap();
    stats
}

#[test]
fn stamps_spare_the_reading_and_a_moved_one_is_hashed_before_it_is_linked() {
    let dir = tempfile::tempdir().unwrap();
    let files = [("a.txt", "alpha"), ("b.txt", "beta"), ("c.txt", "gamma")];
    let v1 = artifact(dir.path(), "1", &files);
    let r1 = dir.path().join("r1");
    stage(&v1, &r1, None);

    // Nothing touched: every unchanged file is linked on its stamp alone.
    let v2 = artifact(
        dir.path(),
        "2",
        &[
            ("a.txt", "alpha"),
            ("b.txt", "beta"),
            ("c.txt", "gamma"),
            ("d.txt", "new"),
        ],
    );
    let stats = stage(&v2, &dir.path().join("r2"), Some((&r1, &v1)));
    assert_eq!(
        (
            stats.files_linked,
            stats.files_rehashed,
            stats.files_written
        ),
        (3, 0, 1)
    );

    // A mode change moves ctime only: hashed, still the same bytes, linked.
    // An append moves everything: hashed, differs, written fresh and named.
    let b = r1.join("b.txt");
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o444)).unwrap();
    let c = r1.join("c.txt");
    std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&c)
        .unwrap()
        .write_all(b"planted")
        .unwrap();
    let v3 = artifact(dir.path(), "3", &files);
    let r3 = dir.path().join("r3");
    let stats = stage(&v3, &r3, Some((&r1, &v1)));
    // `a.txt` is hashed too: r2 linked it, and a link count moves ctime.
    assert_eq!((stats.files_linked, stats.files_rehashed), (2, 3));
    assert_eq!(stats.stale_in_previous, ["c.txt"]);
    assert_eq!(std::fs::read_to_string(r3.join("c.txt")).unwrap(), "gamma");
}
