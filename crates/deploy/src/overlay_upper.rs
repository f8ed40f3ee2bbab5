//! Carrying what an isolated check wrote (the overlay's upper dir) into
//! the release being staged, and finding what it did to shipped paths.
//!
//! In the upper dir a new path is itself; a path the release already had
//! is a copy-up (a file written, chmodded or touched), a whiteout (a char
//! device 0/0: removed), or an opaque dir (the release's contents under it
//! hidden: removed and made again). New paths and changes to paths no
//! artifact shipped (what an earlier check generated) are applied to the
//! release; a shipped path that no longer matches its manifest entry is
//! returned, to refuse the deploy. Both trees are reached through no
//! symlink ([`hoist_beneath`]); a FIFO, socket or device refuses the deploy.

use crate::DeployError;
use hoist_beneath::{Dir, Kind};
use hoist_store::{EntryKind, Manifest};
use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// Applies `upper` to the release at `partial`; returns the shipped paths
/// changed (`"changed"`) or removed (`"removed"`), in walk order.
pub(crate) fn apply(
    upper: &Path,
    partial: &Path,
    manifest: &Manifest,
    shared: &[String],
) -> Result<Vec<(String, &'static str)>, DeployError> {
    let up = Dir::open(upper).map_err(io("cannot open", upper))?;
    let tree = Dir::open(partial).map_err(io("cannot open", partial))?;
    let mounts = crate::shared::mounts(shared);
    let entries = up.walk().map_err(io("cannot read", upper))?;
    let in_upper: HashSet<String> = entries
        .iter()
        .map(|item| item.path.to_string_lossy().into_owned())
        .collect();
    let mut changed = Vec::new();
    for item in &entries {
        let rel = item.path.as_path();
        let name = rel.to_string_lossy().into_owned();
        let under = |prefix: &str| {
            name == prefix
                || name
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        // Writes through a shared link land in `shared/`, not here.
        if mounts.iter().any(|mount| under(mount)) {
            continue;
        }
        let at = partial.join(rel);
        let shipped = manifest.entry(&name);
        let below = tree.metadata(rel).ok();
        let metadata = up
            .metadata(rel)
            .map_err(io("cannot stat", &upper.join(rel)))?;
        let mode = metadata.permissions().mode() & 0o7777;
        match item.kind {
            Kind::Other => {
                let whiteout = metadata.file_type().is_char_device() && metadata.rdev() == 0;
                if !whiteout {
                    // A release holds files, dirs and links: refused as the seal refuses it.
                    return Err(DeployError::Store(
                        hoist_store::StoreError::GeneratedUnsafe {
                            problem: format!(
                                "which is {}",
                                hoist_store::special_kind(&upper.join(rel))
                            ),
                            path: name,
                        },
                    ));
                }
                if shipped.is_some() || ships_under(manifest, &name) {
                    changed.push((name, "removed"));
                } else if below.is_some() {
                    tree.remove(rel).map_err(io("cannot remove", &at))?;
                }
            }
            Kind::Dir => match below {
                Some(below) if below.is_dir() => {
                    if is_opaque(&upper.join(rel)) {
                        hidden(&tree, &name, manifest, &in_upper, &mut changed)?;
                    }
                }
                Some(_) if shipped.is_some() => changed.push((name, "changed")),
                Some(_) => {
                    tree.remove(rel).map_err(io("cannot remove", &at))?;
                    tree.create_dir(rel, mode)
                        .map_err(io("cannot create", &at))?;
                }
                None => tree
                    .create_dir(rel, mode)
                    .map_err(io("cannot create", &at))?,
            },
            Kind::File => {
                if let Some(entry) = shipped {
                    if entry.kind != EntryKind::File || !hoist_store::file_matches(&up, entry) {
                        changed.push((name, "changed"));
                    }
                    continue;
                }
                if below.is_some() {
                    tree.remove(rel).map_err(io("cannot remove", &at))?;
                }
                let copied = up.open_file(rel).and_then(|mut from| {
                    let mut to = tree.create_file(rel, mode)?;
                    std::io::copy(&mut from, &mut to)
                });
                copied.map_err(io("cannot copy a check's output to", &at))?;
            }
            Kind::Symlink => {
                let target = up
                    .read_link(rel)
                    .map_err(io("cannot read", &upper.join(rel)))?;
                if let Some(entry) = shipped {
                    if entry.kind != EntryKind::Symlink
                        || entry.target.as_deref() != target.to_str()
                    {
                        changed.push((name, "changed"));
                    }
                    continue;
                }
                if below.is_some() {
                    tree.remove(rel).map_err(io("cannot remove", &at))?;
                }
                tree.symlink(&target, rel)
                    .map_err(io("cannot create link", &at))?;
            }
        }
    }
    Ok(changed)
}

/// Under an opaque dir the release's own entries are hidden: a shipped one
/// not made again in the upper dir was removed, anything else goes.
fn hidden(
    tree: &Dir,
    dir: &str,
    manifest: &Manifest,
    in_upper: &HashSet<String>,
    changed: &mut Vec<(String, &'static str)>,
) -> Result<(), DeployError> {
    let at = tree.path().join(dir);
    let below = tree
        .open_dir(Path::new(dir))
        .and_then(|below| below.walk())
        .map_err(io("cannot read", &at))?;
    for item in below {
        let path = format!("{dir}/{}", item.path.to_string_lossy());
        if in_upper.contains(&path) {
            continue;
        }
        if manifest.entry(&path).is_some() {
            changed.push((path, "removed"));
        } else {
            match tree.remove(Path::new(&path)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io("cannot remove", &tree.path().join(&path))(error));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Whether any shipped path lies under `dir`.
fn ships_under(manifest: &Manifest, dir: &str) -> bool {
    manifest.files.iter().any(|entry| {
        entry
            .path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Whether overlayfs marked the upper dir at `path` opaque.
fn is_opaque(path: &Path) -> bool {
    let mut value = [0u8; 4];
    rustix::fs::lgetxattr(path, "trusted.overlay.opaque", &mut value[..])
        .is_ok_and(|len| &value[..len] == b"y")
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DeployError {
    let path = path.to_owned();
    move |cause| {
        hoist_site::SiteError::Io {
            action,
            path,
            cause,
        }
        .into()
    }
}
