//! Whole release trees: sealing one read-only, removing one. Both walk the
//! tree by file descriptor ([`hoist_beneath`]): a release may hold symlinks
//! (its own, shared links, whatever `checks` left), and neither a chmod nor
//! a delete may ever act on what they point to.

use crate::DeployError;
use hoist_beneath::{Dir, Kind};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Makes every directory read-only, deepest first (files already are).
pub(crate) fn seal(dir: &Path) -> Result<(), DeployError> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| hoist_site::SiteError::Io {
            action: "cannot seal",
            path,
            cause: source,
        }
    };
    let tree = Dir::open(dir).map_err(failed(dir))?;
    let entries = tree.walk().map_err(failed(dir))?;
    // Walked parents first, so reversed: children before their parents.
    for entry in entries.iter().rev().filter(|entry| entry.kind == Kind::Dir) {
        let mode = tree
            .metadata(&entry.path)
            .map(|metadata| metadata.permissions().mode())
            .map_err(failed(&dir.join(&entry.path)))?;
        tree.set_mode(&entry.path, hoist_store::release_mode(mode))
            .map_err(failed(&dir.join(&entry.path)))?;
    }
    let mode = std::fs::symlink_metadata(dir)
        .map(|metadata| metadata.permissions().mode())
        .map_err(failed(dir))?;
    std::fs::set_permissions(
        dir,
        std::fs::Permissions::from_mode(hoist_store::release_mode(mode)),
    )
    .map_err(failed(dir))?;
    Ok(())
}

/// Removes a tree hoist made read-only; returns what could not be removed.
pub(crate) fn remove_tree(dir: &Path) -> Vec<String> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return vec![format!("`{}` is not a tree hoist removes", dir.display())];
    };
    let removed = Dir::open(parent).and_then(|parent| parent.remove(Path::new(name)));
    match removed {
        Ok(()) => Vec::new(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => vec![format!("cannot remove `{}`: {error}", dir.display())],
    }
}
