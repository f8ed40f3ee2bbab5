//! Extraction of a foreign tarball beneath a scratch directory, refusing
//! what an artifact's unpack refuses.

use super::ImportOptions;
use crate::{paths, StoreError};
use hoist_beneath::Dir;
use std::io::Read;
use std::path::{Component, Path};

/// Extracts `reader` into `scratch`; returns the first top-level directory
/// that `--strip-components` dropped (`DDGC-0.940`), which names the version.
pub(super) fn extract(
    reader: impl Read,
    scratch: &Path,
    options: &ImportOptions,
) -> Result<Option<String>, StoreError> {
    let tree = Dir::open(scratch).map_err(StoreError::io("cannot open", scratch))?;
    let unsafe_entry = |entry: &str, problem: String| StoreError::UnsafeEntry {
        artifact: options.tarball.clone(),
        entry: entry.to_owned(),
        problem,
    };
    let corrupt = |error: std::io::Error| StoreError::Corrupt {
        path: options.tarball.clone(),
        detail: error.to_string(),
    };
    let mut archive = tar::Archive::new(reader);
    let mut top = None;
    let mut total: u64 = 0;
    for item in archive.entries().map_err(corrupt)? {
        let mut item = item.map_err(corrupt)?;
        let kind = item.header().entry_type();
        // `git archive` puts the commit id in a pax global header: metadata, not a file.
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let raw = String::from_utf8(item.path_bytes().into_owned())
            .map_err(|_| unsafe_entry("<non-UTF-8>", "has a non-UTF-8 path".into()))?;
        let name = raw.trim_end_matches('/');
        let name = name.strip_prefix("./").unwrap_or(name);
        if name.is_empty() || name == "." {
            continue;
        }
        paths::check_relative(name).map_err(|problem| unsafe_entry(name, problem.into()))?;
        let parts: Vec<&str> = name.split('/').collect();
        if parts.len() <= options.strip_components {
            if kind.is_dir() {
                top.get_or_insert_with(|| parts[0].to_owned());
                continue;
            }
            return Err(unsafe_entry(
                name,
                format!(
                    "has fewer than {} leading directories to strip; lower `--strip-components`",
                    options.strip_components + 1
                ),
            ));
        }
        if options.strip_components > 0 {
            top.get_or_insert_with(|| parts[0].to_owned());
        }
        let relative = parts[options.strip_components..].join("/");
        let relative = Path::new(&relative);
        make_parents(&tree, relative).map_err(|error| refused(&unsafe_entry, name, error))?;
        let mode = item.header().mode().map_err(corrupt)?;
        match kind {
            tar::EntryType::Directory => match tree.create_dir(relative, (mode & 0o755) | 0o700) {
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                other => other.map_err(|error| refused(&unsafe_entry, name, error))?,
            },
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                total = total.saturating_add(item.size());
                if total > options.max_bytes {
                    return Err(StoreError::TooLarge {
                        artifact: options.tarball.clone(),
                        size: total,
                        limit: options.max_bytes,
                    });
                }
                let mut file = tree
                    .create_file(relative, (mode & 0o755) | 0o600)
                    .map_err(|error| refused(&unsafe_entry, name, error))?;
                let limit = item.size();
                std::io::copy(&mut (&mut item).take(limit), &mut file).map_err(corrupt)?;
            }
            tar::EntryType::Symlink => {
                let target = item
                    .link_name_bytes()
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_default();
                // Stored as given: `pack` refuses a link that leads out of the tree.
                tree.symlink(Path::new(&target), relative)
                    .map_err(|error| refused(&unsafe_entry, name, error))?;
            }
            other => {
                let what = match other {
                    tar::EntryType::Link => "a hard link".to_owned(),
                    tar::EntryType::Char | tar::EntryType::Block => "a device file".to_owned(),
                    tar::EntryType::Fifo => "a FIFO".to_owned(),
                    other => format!("of unsupported tar type {other:?}"),
                };
                return Err(unsafe_entry(
                    name,
                    format!("is {what}; only files, directories and symlinks are imported"),
                ));
            }
        }
    }
    Ok(top)
}

/// Creates the missing directories above `relative` (`npm pack` lists files only).
fn make_parents(tree: &Dir, relative: &Path) -> std::io::Result<()> {
    let mut dir = std::path::PathBuf::new();
    let parents: Vec<Component<'_>> = relative.components().collect();
    for component in &parents[..parents.len().saturating_sub(1)] {
        dir.push(component);
        match tree.create_dir(&dir, 0o755) {
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                // There already: it must be a real directory, not a link or a file.
                if !tree.metadata(&dir)?.is_dir() {
                    let problem =
                        format!("lies under `{}`, which is not a directory", dir.display());
                    return Err(std::io::Error::other(problem));
                }
            }
            other => other?,
        }
    }
    Ok(())
}

fn refused(
    unsafe_entry: &impl Fn(&str, String) -> StoreError,
    name: &str,
    error: std::io::Error,
) -> StoreError {
    let problem = if hoist_beneath::is_through_link(&error) {
        "would be written through a symlink".to_owned()
    } else if error.kind() == std::io::ErrorKind::AlreadyExists {
        "appears twice in the tarball".to_owned()
    } else if error.kind() == std::io::ErrorKind::Other {
        error.to_string()
    } else {
        format!("cannot be created: {error}")
    };
    unsafe_entry(name, problem)
}
