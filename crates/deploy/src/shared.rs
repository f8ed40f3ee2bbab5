//! Linking `shared/` paths into a release, and recognising those links later.
//!
//! The release tree came from an artifact, so any directory on the way to
//! a shared path may really be a symlink the artifact planted. Every step
//! here is taken beneath the release through no symlink
//! ([`hoist_beneath::Dir`]): a shared path whose parent is a link is
//! refused, and whatever the artifact had at the path itself is removed
//! as it is (a link is unlinked, never followed).

use crate::DeployError;
use hoist_beneath::Dir;
use hoist_site::Site;
use std::path::{Path, PathBuf};

/// The link target for shared `entry` seen from inside a release:
/// `releases/<id>/config/secrets.env -> ../../../shared/config/secrets.env`.
pub(crate) fn link_target(entry: &str) -> PathBuf {
    let depth = entry.matches('/').count();
    let mut target = PathBuf::new();
    for _ in 0..depth + 2 {
        target.push("..");
    }
    target.join("shared").join(entry)
}

/// The `[deploy] shared` entries as paths inside the release (no trailing `/`).
pub(crate) fn mounts(entries: &[String]) -> Vec<&str> {
    entries
        .iter()
        .map(|entry| entry.trim_end_matches('/'))
        .collect()
}

/// Links every `[deploy] shared` entry into `release`, replacing whatever
/// the artifact had there. Directories are created in `shared/` on first
/// use; a missing shared *file* is an error, since it is usually a secret.
/// The release's own links must not climb out of a shared path (checked
/// against `manifest` before anything is linked).
pub(crate) fn link_all(
    site: &Site,
    release: &Path,
    manifest: &hoist_store::Manifest,
    entries: &[String],
) -> Result<(), DeployError> {
    hoist_store::check_links(manifest, &mounts(entries)).map_err(|escape| {
        DeployError::SharedEscape {
            entry: escape.entry,
            problem: escape.problem,
        }
    })?;
    let tree = Dir::open(release).map_err(io("cannot open", release))?;
    for raw in entries {
        let is_dir = raw.ends_with('/');
        let entry = raw.trim_end_matches('/');
        let in_shared = site.shared_dir().join(entry);
        if is_dir {
            std::fs::create_dir_all(&in_shared).map_err(io("cannot create", &in_shared))?;
        } else if !in_shared.is_file() {
            return Err(DeployError::SharedMissing {
                entry: raw.clone(),
                expected: in_shared,
            });
        }
        link_one(&tree, release, raw, Path::new(entry))?;
    }
    Ok(())
}

/// Makes the dirs above `entry` (each must be a real dir), removes what is
/// at `entry`, and puts the shared link there.
fn link_one(tree: &Dir, release: &Path, raw: &str, entry: &Path) -> Result<(), DeployError> {
    let through_link = |at: &Path| DeployError::SharedThroughLink {
        entry: raw.to_owned(),
        link: at.display().to_string(),
    };
    let refuse = |error: std::io::Error, at: &Path| {
        if hoist_beneath::is_through_link(&error) {
            through_link(at)
        } else {
            io("cannot link shared path into", &release.join(at))(error)
        }
    };
    let mut parent = PathBuf::new();
    for component in entry.parent().into_iter().flat_map(Path::components) {
        parent.push(component);
        match tree.metadata(&parent) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(metadata) if metadata.is_symlink() => return Err(through_link(&parent)),
            Ok(_) => {
                return Err(DeployError::SharedNotADirectory {
                    entry: raw.to_owned(),
                    file: parent.display().to_string(),
                })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => tree
                .create_dir(&parent, 0o755)
                .map_err(|error| refuse(error, &parent))?,
            Err(error) => return Err(refuse(error, &parent)),
        }
    }
    match tree.remove(entry) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(refuse(error, entry)),
    }
    let target = link_target(&entry.to_string_lossy());
    tree.symlink(&target, entry)
        .map_err(|error| refuse(error, entry))
}

/// The shared links hoist made in `release`: every symlink whose target
/// is exactly [`link_target`] of its own path.
pub(crate) fn links_in_place(release: &Path) -> Result<Vec<String>, DeployError> {
    let tree = Dir::open(release).map_err(io("cannot open", release))?;
    let entries = tree.walk().map_err(io("cannot read", release))?;
    Ok(links_in_walk(&tree, &entries))
}

/// [`links_in_place`] of a walk the caller already made of `tree`.
pub(crate) fn links_in_walk(tree: &Dir, entries: &[hoist_beneath::Entry]) -> Vec<String> {
    entries
        .iter()
        .filter(|entry| entry.kind == hoist_beneath::Kind::Symlink)
        .filter_map(|entry| {
            let path = entry.path.to_str()?.to_owned();
            let target = tree.read_link(&entry.path).ok()?;
            (target == link_target(&path)).then_some(path)
        })
        .collect()
}

/// Drops from `extra` the shared links hoist made and the dirs it made to hold them.
pub(crate) fn without_shared_links(release: &Path, extra: Vec<String>) -> Vec<String> {
    let Ok(tree) = Dir::open(release) else {
        return extra;
    };
    let is_shared_link = |path: &String| {
        tree.read_link(Path::new(path))
            .is_ok_and(|target| target == link_target(path))
    };
    let links: Vec<&String> = extra.iter().filter(|path| is_shared_link(path)).collect();
    let is_dir = |path: &String| {
        tree.metadata(Path::new(path))
            .is_ok_and(|metadata| metadata.is_dir())
    };
    let holds_only_links = |dir: &String| {
        let prefix = format!("{dir}/");
        let under: Vec<&String> = extra
            .iter()
            .filter(|path| path.starts_with(&prefix))
            .collect();
        !under.is_empty()
            && under
                .iter()
                .all(|path| links.contains(path) || is_dir(path))
    };
    extra
        .iter()
        .filter(|path| !links.contains(path) && !holds_only_links(path))
        .cloned()
        .collect()
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DeployError {
    let path = path.to_owned();
    move |source| {
        DeployError::Site(hoist_site::SiteError::Io {
            action,
            path,
            cause: source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::link_target;
    use std::path::Path;

    #[test]
    fn targets_climb_out_of_the_release() {
        assert_eq!(link_target("log"), Path::new("../../shared/log"));
        assert_eq!(
            link_target("config/secrets.env"),
            Path::new("../../../shared/config/secrets.env")
        );
    }
}
