//! `restore` puts a damaged release tree back from its artifact, and
//! `Generated` keeps what checks wrote from reading as tampering.

use hoist_store::{pack, restore, verify_tree, Artifact, Generated, PackOptions, GENERATED_NAME};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn unpacked(dir: &Path) -> (Artifact, std::path::PathBuf) {
    let source = dir.join("src");
    for (path, text) in [
        ("a.txt", "alpha"),
        ("lib/b.txt", "beta"),
        ("lib/c/d.txt", "delta"),
    ] {
        let full = source.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    std::os::unix::fs::symlink("lib/b.txt", source.join("b-link")).unwrap();
    let mut options = PackOptions::new("shop", &source, &dir.join("dist"));
    options.version = Some("1".into());
    let packed = pack(&options).unwrap();
    let artifact = Artifact::open(&packed.artifact, u64::MAX).unwrap();
    let release = dir.join("release");
    artifact.unpack(&release, None, &mut |_| {}).unwrap();
    (artifact, release)
}

fn writable(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn drift(artifact: &Artifact, release: &Path) -> hoist_store::Drift {
    let tree = hoist_beneath::Dir::open(release).unwrap();
    let generated = Generated::read(&tree).unwrap();
    verify_tree(release, artifact.manifest(), &generated, &[]).unwrap()
}

#[test]
fn every_kind_of_damage_is_put_back_and_the_tree_stays_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let (artifact, release) = unpacked(dir.path());
    for path in ["", "lib", "lib/c"] {
        writable(&release.join(path));
    }
    std::fs::remove_file(release.join("a.txt")).unwrap();
    std::fs::write(release.join("a.txt"), "planted").unwrap();
    std::fs::remove_file(release.join("lib/b.txt")).unwrap();
    std::fs::remove_dir_all(release.join("lib/c")).unwrap();
    std::os::unix::fs::symlink("/etc", release.join("lib/c")).unwrap();
    std::fs::remove_file(release.join("b-link")).unwrap();
    std::fs::write(release.join("extra.sh"), "planted").unwrap();
    let found = drift(&artifact, &release);
    assert!(!found.is_clean());

    let restored = restore(&artifact, &release, &found).unwrap();
    assert_eq!(restored.removed, ["extra.sh"]);
    assert!(
        restored.replaced.contains(&"a.txt".to_owned()),
        "{restored:?}"
    );
    assert!(
        restored.replaced.contains(&"lib/c".to_owned()),
        "{restored:?}"
    );
    assert!(
        restored.missing.contains(&"lib/b.txt".to_owned()),
        "{restored:?}"
    );
    assert!(
        drift(&artifact, &release).is_clean(),
        "{:?}",
        drift(&artifact, &release)
    );
    assert_eq!(
        std::fs::read_to_string(release.join("lib/c/d.txt")).unwrap(),
        "delta"
    );
    for path in ["", "lib", "lib/c"] {
        let mode = std::fs::metadata(release.join(path))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0, "`{path}` is sealed again");
    }
    assert!(std::fs::read_dir(&release).unwrap().all(|item| !item
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("hoist-repair")));
}

#[test]
fn generated_paths_verify_as_generated_and_a_changed_one_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (artifact, release) = unpacked(dir.path());
    writable(&release);
    std::fs::create_dir(release.join("cache")).unwrap();
    std::fs::write(release.join("cache/x"), "warm").unwrap();
    let tree = hoist_beneath::Dir::open(&release).unwrap();
    let generated = Generated::scan(&tree, artifact.manifest(), &[]).unwrap();
    std::fs::write(release.join(GENERATED_NAME), generated.to_json()).unwrap();
    let found = drift(&artifact, &release);
    assert!(found.is_clean(), "{found:?}");
    assert_eq!(found.generated, ["cache", "cache/x"]);

    std::fs::write(release.join("cache/x"), "poisoned").unwrap();
    let found = drift(&artifact, &release);
    assert_eq!(
        (found.changed_generated.as_slice(), found.is_clean()),
        (&["cache/x".to_owned()][..], false)
    );
    let restored = restore(&artifact, &release, &found).unwrap();
    assert_eq!(restored.removed_generated, ["cache/x"]);
    let after = drift(&artifact, &release);
    assert!(after.is_clean(), "{after:?}");
    assert_eq!(after.generated, ["cache"]);
}
