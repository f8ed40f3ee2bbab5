//! Crash-safe file operations: a reader or a reboot never sees half a write.

use crate::SiteError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Flushes a directory's entries (creations, renames, unlinks) to disk.
pub fn fsync_dir(dir: &Path) -> Result<(), SiteError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(SiteError::io("cannot fsync", dir))
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, dir fsync.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SiteError> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    if let Err(source) = write() {
        let _ = std::fs::remove_file(&temp);
        return Err(SiteError::Io {
            action: "cannot write",
            path: temp,
            source,
        });
    }
    rename(&temp, path)
}

/// Renames and makes the rename durable.
pub fn rename(from: &Path, to: &Path) -> Result<(), SiteError> {
    std::fs::rename(from, to).map_err(SiteError::io("cannot rename into", to))?;
    fsync_dir(parent_of(to))?;
    if parent_of(from) != parent_of(to) {
        fsync_dir(parent_of(from))?;
    }
    Ok(())
}

/// Removes a file durably; a missing file is fine.
pub fn remove_file(path: &Path) -> Result<(), SiteError> {
    match std::fs::remove_file(path) {
        Ok(()) => fsync_dir(parent_of(path)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SiteError::Io {
            action: "cannot remove",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Flushes the whole file system holding `path`: one call instead of an
/// fsync per file after unpacking thousands of them.
pub fn sync_filesystem(path: &Path) -> Result<(), SiteError> {
    let file = File::open(path).map_err(SiteError::io("cannot open", path))?;
    nix::unistd::syncfs(&file).map_err(|errno| SiteError::Io {
        action: "cannot sync file system of",
        path: path.to_owned(),
        source: errno.into(),
    })
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_whole_files_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
