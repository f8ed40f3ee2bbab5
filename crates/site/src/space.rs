//! Free space checks before unpacking.

use crate::SiteError;
use std::path::Path;

/// Space available to unprivileged writers on a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeSpace {
    /// Bytes available.
    pub bytes: u64,
    /// Inodes available (files + dirs that can still be created).
    pub inodes: u64,
}

/// Reads free space for the file system holding `path`.
pub fn free_space(path: &Path) -> Result<FreeSpace, SiteError> {
    let stat = nix::sys::statvfs::statvfs(path).map_err(|errno| SiteError::Io {
        action: "cannot stat file system of",
        path: path.to_owned(),
        source: errno.into(),
    })?;
    Ok(FreeSpace {
        bytes: stat.blocks_available() as u64 * stat.fragment_size() as u64,
        // Some file systems (btrfs) have no inode limit and report zero.
        inodes: if stat.files() == 0 {
            u64::MAX
        } else {
            stat.files_available() as u64
        },
    })
}
