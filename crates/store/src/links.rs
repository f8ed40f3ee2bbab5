//! Where a release's symlinks really lead, resolved the way the kernel
//! resolves them: through the other links of the same release.
//!
//! Reading a link's target as text is not enough. With `a/b/c/l -> ../../..`
//! and `config -> a/b/c/l/../../../victim`, each target stays inside the
//! release when read alone, yet `config` leads three levels above it. So
//! every link is followed component by component, and whenever a component
//! names another link of the release, that link's target is spliced in,
//! exactly as path resolution does (up to [`MAX_HOPS`] links, as Linux's
//! 40). Climbing above the release root at any point refuses the link.
//!
//! `mounts` are paths hoist itself turns into links out of the release
//! (`[deploy] shared`): entering one is fine (that is what it is for), but
//! a `..` that climbs back out of it would land somewhere else than the
//! text says, so it is refused too.

use crate::{EntryKind, Manifest};
use std::collections::HashMap;

/// Links followed in one resolution before giving up, as Linux does.
const MAX_HOPS: usize = 40;

/// A link that leads out of the release, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEscape {
    /// The link's path in the release.
    pub entry: String,
    /// Phrased to follow the entry's name.
    pub problem: String,
}

/// Checks that every symlink of `manifest` resolves inside the release,
/// with `mounts` (shared paths) treated as exits that may not be climbed out of.
pub fn check_links(manifest: &Manifest, mounts: &[&str]) -> Result<(), LinkEscape> {
    let links: HashMap<&str, &str> = manifest
        .files
        .iter()
        .filter(|entry| entry.kind == EntryKind::Symlink)
        .map(|entry| (entry.path.as_str(), entry.target.as_deref().unwrap_or("")))
        .collect();
    let mut paths: Vec<&&str> = links.keys().collect();
    paths.sort();
    for path in paths {
        resolve(path, &links, mounts).map_err(|problem| LinkEscape {
            entry: (*path).to_owned(),
            problem,
        })?;
    }
    Ok(())
}

/// Checks that each of `more` (links not in `manifest`, such as the ones a
/// release's checks generated) resolves inside the release, through the
/// manifest's links and each other's.
pub fn check_more_links(
    manifest: &Manifest,
    more: &[(&str, &str)],
    mounts: &[&str],
) -> Result<(), LinkEscape> {
    let links: HashMap<&str, &str> = manifest
        .files
        .iter()
        .filter(|entry| entry.kind == EntryKind::Symlink)
        .map(|entry| (entry.path.as_str(), entry.target.as_deref().unwrap_or("")))
        .chain(more.iter().copied())
        .collect();
    check_these(&links, more, mounts)
}

/// [`check_more_links`] of a tree that has no manifest yet (an imported
/// tarball, checked before its version is asked for).
pub(crate) fn check_link_list(links: &[(&str, &str)]) -> Result<(), LinkEscape> {
    let map: HashMap<&str, &str> = links.iter().copied().collect();
    check_these(&map, links, &[])
}

fn check_these(
    links: &HashMap<&str, &str>,
    more: &[(&str, &str)],
    mounts: &[&str],
) -> Result<(), LinkEscape> {
    for (path, _) in more {
        resolve(path, links, mounts).map_err(|problem| LinkEscape {
            entry: (*path).to_owned(),
            problem,
        })?;
    }
    Ok(())
}

/// Follows the link at `path` to its end.
fn resolve(path: &str, links: &HashMap<&str, &str>, mounts: &[&str]) -> Result<(), String> {
    let target = links[path];
    if target.is_empty() {
        return Err("is a symlink with an empty target".into());
    }
    // Where we are: the components of the current directory.
    let mut at: Vec<&str> = path.split('/').collect();
    at.pop();
    // What is left to walk, front first.
    let mut pending: Vec<&str> = Vec::new();
    splice(&mut pending, target)?;
    // Inside a mount, the depth below which `..` would leave it.
    let mut floor: Option<(usize, &str)> = None;
    let mut hops = 0;
    while let Some(component) = pending.pop() {
        match component {
            "" | "." => {}
            ".." => {
                if let Some((depth, mount)) = floor {
                    if at.len() <= depth {
                        return Err(format!(
                            "climbs back out of the shared path `{mount}`, which leads outside the release"
                        ));
                    }
                }
                if at.pop().is_none() {
                    return Err("leads outside the release".into());
                }
            }
            name => {
                at.push(name);
                let here = at.join("/");
                if floor.is_none() {
                    if let Some(mount) = mounts.iter().find(|mount| **mount == here) {
                        floor = Some((at.len(), mount));
                    }
                }
                if let Some(next) = links.get(here.as_str()) {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(format!("goes through more than {MAX_HOPS} links (a loop?)"));
                    }
                    at.pop();
                    splice(&mut pending, next)?;
                }
            }
        }
    }
    Ok(())
}

/// Puts `target`'s components in front of what is left to walk.
fn splice<'a>(pending: &mut Vec<&'a str>, target: &'a str) -> Result<(), String> {
    if target.starts_with('/') {
        return Err("leads to an absolute path outside the release".into());
    }
    if target.contains('\0') {
        return Err("has a NUL in its target".into());
    }
    pending.extend(target.split('/').rev());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Entry, ReleaseId};

    fn manifest(links: &[(&str, &str)], dirs: &[&str]) -> Manifest {
        let mut files: Vec<Entry> = links
            .iter()
            .map(|(path, target)| Entry {
                path: (*path).into(),
                kind: EntryKind::Symlink,
                mode: 0o777,
                size: 0,
                blake3: None,
                target: Some((*target).into()),
            })
            .chain(dirs.iter().map(|path| Entry {
                path: (*path).into(),
                kind: EntryKind::Dir,
                mode: 0o755,
                size: 0,
                blake3: None,
                target: None,
            }))
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest {
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
        }
    }

    fn problem(links: &[(&str, &str)], mounts: &[&str]) -> Option<String> {
        check_links(
            &manifest(links, &["a", "a/b", "a/b/c", "bin", "lib"]),
            mounts,
        )
        .err()
        .map(|escape| format!("{} {}", escape.entry, escape.problem))
    }

    #[test]
    fn plain_links_inside_pass() {
        assert_eq!(problem(&[("bin/tool", "../lib/tool")], &[]), None);
        assert_eq!(problem(&[("a", "b/c")], &[]), None);
        assert_eq!(problem(&[("x", "a/b/../b/c")], &[]), None);
    }

    #[test]
    fn lexical_escapes_are_refused() {
        assert!(problem(&[("a", "../x")], &[]).is_some());
        assert!(problem(&[("a/b", "../../x")], &[]).is_some());
        assert!(problem(&[("a/b", "../c/../../x")], &[]).is_some());
        assert!(problem(&[("a", "/etc")], &[]).unwrap().contains("absolute"));
        assert!(problem(&[("a", "")], &[]).unwrap().contains("empty"));
    }

    #[test]
    fn symlink_chain_escape_is_refused() {
        // Issue 12, finding 1: each link reads as inside, together they leave.
        let found = problem(
            &[
                ("a/b/c/l", "../../.."),
                ("config", "a/b/c/l/../../../victim"),
            ],
            &[],
        )
        .unwrap();
        assert!(found.starts_with("config leads outside"), "{found}");
    }

    #[test]
    fn loops_are_refused() {
        let found = problem(&[("x", "y"), ("y", "x")], &[]).unwrap();
        assert!(found.contains("loop"), "{found}");
    }

    #[test]
    fn links_may_enter_a_shared_path_but_not_climb_out() {
        assert_eq!(
            problem(&[("public/uploads", "../uploads")], &["uploads"]),
            None
        );
        assert_eq!(problem(&[("u", "uploads/2026")], &["uploads"]), None);
        let found = problem(&[("x", "uploads/..")], &["uploads"]).unwrap();
        assert!(found.contains("shared path `uploads`"), "{found}");
        let found = problem(&[("l", "log"), ("x", "l/..")], &["log"]).unwrap();
        assert!(found.contains("shared path `log`"), "{found}");
    }
}
