//! Every operation refuses to pass through a symlink, with the kernel's
//! `openat2` and with the component walk alike.

use super::*;
use std::os::unix::fs::PermissionsExt;

/// A site-like layout: `outside/victim/secret` next to `tree/`, and
/// `tree/esc -> ../outside/victim` as an artifact could plant it.
fn layout() -> (tempfile::TempDir, Dir) {
    let top = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(top.path().join("outside/victim")).unwrap();
    std::fs::write(top.path().join("outside/victim/secret"), "keep").unwrap();
    std::fs::create_dir_all(top.path().join("tree/real")).unwrap();
    std::os::unix::fs::symlink("../outside/victim", top.path().join("tree/esc")).unwrap();
    std::os::unix::fs::symlink("real", top.path().join("tree/inner")).unwrap();
    let dir = Dir::open(&top.path().join("tree")).unwrap();
    (top, dir)
}

fn both(test: impl Fn()) {
    resolve::use_openat2(true);
    test();
    resolve::use_openat2(false);
    test();
    resolve::use_openat2(true);
}

#[track_caller]
fn refused(result: io::Result<impl std::fmt::Debug>) {
    let error = result.unwrap_err();
    assert!(is_through_link(&error), "{error}");
}

#[test]
fn nothing_passes_through_a_symlink() {
    both(|| {
        let (top, dir) = layout();
        let p = |text: &str| PathBuf::from(text);
        refused(dir.create_dir(&p("esc/new"), 0o755));
        refused(dir.create_file(&p("esc/new"), 0o644));
        refused(dir.open_file(&p("esc/secret")));
        refused(dir.symlink(&p("x"), &p("esc/link")));
        refused(dir.metadata(&p("esc/secret")));
        refused(dir.read_link(&p("esc/secret")));
        refused(dir.set_mode(&p("esc/secret"), 0o777));
        refused(dir.remove(&p("esc/secret")));
        refused(dir.open_dir(&p("esc")));
        refused(dir.rename(&p("real"), &p("esc/real")));
        refused(dir.rename(&p("esc/secret"), &p("stolen")));
        // Even a link that stays inside is not followed.
        refused(dir.create_file(&p("inner/x"), 0o644));
        refused(dir.open_file(&p("inner")));
        let victim = top.path().join("outside/victim");
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 1);
        assert_eq!(
            std::fs::read_to_string(victim.join("secret")).unwrap(),
            "keep"
        );
    });
}

#[test]
fn a_link_itself_can_be_described_replaced_and_removed() {
    both(|| {
        let (top, dir) = layout();
        let esc = Path::new("esc");
        assert!(dir.metadata(esc).unwrap().file_type().is_symlink());
        assert_eq!(dir.read_link(esc).unwrap(), Path::new("../outside/victim"));
        dir.remove(esc).unwrap();
        assert!(top.path().join("outside/victim/secret").is_file());
        dir.symlink(Path::new("real"), esc).unwrap();
        assert_eq!(dir.read_link(esc).unwrap(), Path::new("real"));
    });
}

#[test]
fn plain_relative_paths_only() {
    let (_top, dir) = layout();
    for bad in ["", "/etc/passwd", "../x", "a/../b", "./a"] {
        let error = dir.create_file(Path::new(bad), 0o644).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{bad}");
    }
}

#[test]
fn removing_a_tree_never_enters_its_links() {
    both(|| {
        let (top, dir) = layout();
        dir.create_dir(Path::new("real/sub"), 0o555).unwrap();
        dir.symlink(
            Path::new("../../../outside/victim"),
            Path::new("real/sub/out"),
        )
        .unwrap();
        dir.set_mode(Path::new("real"), 0o555).unwrap();
        dir.remove(Path::new("real")).unwrap();
        assert!(!top.path().join("tree/real").exists());
        assert!(top.path().join("outside/victim/secret").is_file());
    });
}

#[test]
fn files_and_dirs_get_exactly_their_mode() {
    let (top, dir) = layout();
    dir.create_dir(Path::new("real/d"), 0o750).unwrap();
    drop(dir.create_file(Path::new("real/d/f"), 0o604).unwrap());
    let mode = |path: &str| {
        std::fs::metadata(top.path().join("tree").join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!((mode("real/d"), mode("real/d/f")), (0o750, 0o604));
    let error = dir.create_file(Path::new("real/d/f"), 0o644).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
}

#[test]
fn hard_links_take_regular_files_only() {
    both(|| {
        let (top, dir) = layout();
        std::fs::write(top.path().join("tree/real/f"), "data").unwrap();
        let other = tempfile::tempdir().unwrap();
        let target = Dir::open(other.path()).unwrap();
        target
            .hard_link_from(&dir, Path::new("real/f"), Path::new("f"))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(other.path().join("f")).unwrap(),
            "data"
        );
        assert!(target
            .hard_link_from(&dir, Path::new("esc"), Path::new("g"))
            .is_err());
        refused(target.hard_link_from(&dir, Path::new("esc/secret"), Path::new("h")));
    });
}

#[test]
fn a_walk_lists_links_without_entering_them() {
    let (_top, dir) = layout();
    std::fs::write(dir.path().join("real/f"), "x").unwrap();
    let found: Vec<(String, Kind)> = dir
        .walk()
        .unwrap()
        .into_iter()
        .map(|entry| (entry.path.display().to_string(), entry.kind))
        .collect();
    assert_eq!(
        found,
        [
            ("esc".to_owned(), Kind::Symlink),
            ("inner".to_owned(), Kind::Symlink),
            ("real".to_owned(), Kind::Dir),
            ("real/f".to_owned(), Kind::File),
        ]
    );
}

#[test]
fn a_rename_replaces_a_file_in_one_step() {
    both(|| {
        let (top, dir) = layout();
        std::fs::write(top.path().join("tree/real/app"), "old").unwrap();
        std::fs::write(top.path().join("tree/real/.app.new"), "new").unwrap();
        dir.rename(Path::new("real/.app.new"), Path::new("real/app"))
            .unwrap();
        dir.sync().unwrap();
        let real = top.path().join("tree/real");
        assert_eq!(std::fs::read_to_string(real.join("app")).unwrap(), "new");
        assert_eq!(std::fs::read_dir(&real).unwrap().count(), 1);
    });
}
