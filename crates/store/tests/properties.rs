//! Property tests (proptest: the toolchain here has no nightly for
//! cargo-fuzz) for the two things an attacker controls in an artifact:
//! the manifest's bytes, and the shape of the tree it describes.

use hoist_store::{check_links, Entry, EntryKind, Manifest, ReleaseId};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn manifest(files: Vec<Entry>) -> Manifest {
    let mut manifest = Manifest {
        format: Manifest::FORMAT,
        release: ReleaseId::parse("20261122T101500Z-1-abc").unwrap(),
        app: "shop".into(),
        version: "1".into(),
        revision: None,
        dirty: false,
        created_at: "2026-11-22T10:15:00Z".parse().unwrap(),
        files,
        content_digest: String::new(),
        digest: String::new(),
    };
    manifest.seal();
    manifest
}

/// A small tree: names from a few components, some dirs, some links with
/// targets made of names, `.`, `..` and an occasional leading `/`.
fn tree() -> impl Strategy<Value = Vec<(String, Option<String>)>> {
    let name = prop::sample::select(vec!["a", "b", "l", "m"]);
    let path = prop::collection::vec(name.clone(), 1..3).prop_map(|parts| parts.join("/"));
    // `..` weighs most: escapes come from links that climb exactly to the
    // root, then one more `..` taken through them.
    let step = prop::sample::select(vec!["a", "l", "m", "..", "..", "..", ".", "x"]);
    let target =
        (any::<bool>(), prop::collection::vec(step, 1..7)).prop_map(|(absolute, parts)| {
            let joined = parts.join("/");
            if absolute && joined.starts_with('x') {
                format!("/{joined}")
            } else {
                joined
            }
        });
    prop::collection::vec((path, prop::option::weighted(0.6, target)), 1..8)
}

/// Lays the tree out on disk (dirs for every parent, links as given) and
/// returns each link's path, skipping entries the layout cannot hold.
fn lay_out(root: &Path, entries: &[(String, Option<String>)]) -> Vec<Entry> {
    let mut listed: Vec<Entry> = Vec::new();
    let mut sorted = entries.to_vec();
    sorted.sort();
    sorted.dedup_by(|a, b| a.0 == b.0);
    for (path, target) in sorted {
        let full = root.join(&path);
        // As unpack does: an entry's parents must be real dirs, never links
        // (an entry under a link is refused before links are looked at).
        let mut parent_ok = true;
        let mut at = root.to_path_buf();
        for part in Path::new(&path)
            .parent()
            .into_iter()
            .flat_map(Path::components)
        {
            at.push(part);
            match std::fs::symlink_metadata(&at) {
                Ok(metadata) if metadata.is_dir() => {}
                Ok(_) => parent_ok = false,
                Err(_) => parent_ok &= std::fs::create_dir(&at).is_ok(),
            }
            if !parent_ok {
                break;
            }
        }
        if !parent_ok || std::fs::symlink_metadata(&full).is_ok() {
            continue;
        }
        let made = match &target {
            Some(target) => std::os::unix::fs::symlink(target, &full).is_ok(),
            None => std::fs::create_dir(&full).is_ok(),
        };
        if !made {
            continue;
        }
        listed.push(Entry {
            path: path.clone(),
            kind: if target.is_some() {
                EntryKind::Symlink
            } else {
                EntryKind::Dir
            },
            mode: 0o755,
            size: 0,
            blake3: None,
            target,
        });
    }
    // Parents the layout made count as dirs of the release too.
    for item in walkdir::WalkDir::new(root).min_depth(1).follow_links(false) {
        let item = item.unwrap();
        let relative = item
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        if item.file_type().is_dir() && !listed.iter().any(|entry| entry.path == relative) {
            listed.push(Entry {
                path: relative,
                kind: EntryKind::Dir,
                mode: 0o755,
                size: 0,
                blake3: None,
                target: None,
            });
        }
    }
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    listed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Whatever bytes a manifest holds, reading it never panics.
    #[test]
    fn any_manifest_bytes_are_refused_or_read(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Manifest::from_json(&bytes);
    }

    /// Near-valid manifests (a real one with bytes flipped) never panic,
    /// and are only accepted when their digests still hold.
    #[test]
    fn edited_manifests_are_caught(flip in 0usize..2000, byte in any::<u8>()) {
        let real = manifest(vec![Entry {
            path: "a.txt".into(),
            kind: EntryKind::File,
            mode: 0o644,
            size: 1,
            blake3: Some(blake3::hash(b"a").to_hex().to_string()),
            target: None,
        }]);
        let mut json = real.to_json();
        let at = flip % json.len();
        json[at] = byte;
        if let Ok(read) = Manifest::from_json(&json) {
            prop_assert!(read == real || !read.is_intact() || read.content_digest == real.content_digest);
        }
    }

    /// When the check accepts a tree's links, the kernel agrees: laid out
    /// on disk, every link that resolves at all resolves inside the root.
    #[test]
    fn accepted_links_really_stay_inside(entries in tree()) {
        let top = tempfile::tempdir().unwrap();
        let root = top.path().join("release");
        std::fs::create_dir(&root).unwrap();
        let listed = lay_out(&root, &entries);
        let accepted = check_links(&manifest(listed.clone()), &[]).is_ok();
        if accepted {
            let root = root.canonicalize().unwrap();
            for entry in listed.iter().filter(|entry| entry.kind == EntryKind::Symlink) {
                let link: PathBuf = root.join(&entry.path);
                if let Ok(real) = link.canonicalize() {
                    prop_assert!(
                        real.starts_with(&root),
                        "`{}` -> {:?} was accepted but leads to {}",
                        entry.path, entry.target, real.display()
                    );
                }
            }
        }
    }
}
