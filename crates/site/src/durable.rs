//! Crash-safe file operations: a reader or a reboot never sees half a write.

use crate::{SiteError, StateAccess};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Flushes a directory's entries (creations, renames, unlinks) to disk.
pub fn fsync_dir(dir: &Path) -> Result<(), SiteError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(SiteError::io("cannot fsync", dir))
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, dir fsync.
/// The file is readable by all (a flag file nginx reads); state files use
/// [`write_state`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SiteError> {
    write_with(path, bytes, None)
}

/// [`write_atomic`] for a state file: created with `access` (never, even
/// for a moment, readable by more than that).
pub fn write_state(path: &Path, bytes: &[u8], access: StateAccess) -> Result<(), SiteError> {
    write_with(path, bytes, Some(access))
}

fn write_with(path: &Path, bytes: &[u8], access: Option<StateAccess>) -> Result<(), SiteError> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per write, not only per process: two tasks of one agent saving
    // its state at once must not rename each other's temp file away.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.tmp-{}-{serial}", std::process::id()));
    let write = || -> Result<(), SiteError> {
        let io = SiteError::io("cannot write", &temp);
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        if let Some(access) = access {
            options.mode(access.mode);
        }
        let mut file = options.open(&temp).map_err(io)?;
        if let Some(access) = access {
            access.apply(&file, &temp)?;
        }
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(SiteError::io("cannot write", &temp))
    };
    if let Err(error) = write() {
        let _ = std::fs::remove_file(&temp);
        return Err(error);
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
            cause: source,
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
        cause: errno.into(),
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
