//! Linking `shared/` paths into a release, and recognising those links later.

use crate::DeployError;
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

/// Links every `[deploy] shared` entry into `release`, replacing whatever
/// the artifact had there. Directories are created in `shared/` on first
/// use; a missing shared *file* is an error, since it is usually a secret.
pub(crate) fn link_all(site: &Site, release: &Path, entries: &[String]) -> Result<(), DeployError> {
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
        let link = release.join(entry);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
        }
        match std::fs::symlink_metadata(&link) {
            Ok(metadata) if metadata.is_dir() => {
                std::fs::remove_dir_all(&link).map_err(io("cannot replace", &link))?
            }
            Ok(_) => std::fs::remove_file(&link).map_err(io("cannot replace", &link))?,
            Err(_) => {}
        }
        std::os::unix::fs::symlink(link_target(entry), &link)
            .map_err(io("cannot create link", &link))?;
    }
    Ok(())
}

/// Drops from `extra` the shared links hoist made and the dirs it made to hold them.
pub(crate) fn without_shared_links(release: &Path, extra: Vec<String>) -> Vec<String> {
    let is_shared_link = |path: &String| {
        std::fs::read_link(release.join(path)).is_ok_and(|target| target == link_target(path))
    };
    let links: Vec<&String> = extra.iter().filter(|path| is_shared_link(path)).collect();
    let holds_only_links = |dir: &String| {
        let prefix = format!("{dir}/");
        let under: Vec<&String> = extra
            .iter()
            .filter(|path| path.starts_with(&prefix))
            .collect();
        !under.is_empty()
            && under
                .iter()
                .all(|path| links.contains(path) || release.join(path).is_dir())
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
            source,
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
