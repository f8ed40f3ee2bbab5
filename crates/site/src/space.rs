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
        cause: errno.into(),
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

/// What the site keeps in reserve (`<root>/.hoist-reserve`) for the
/// emergency paths: on a full disk, `rollback` and `recover` free it so
/// that they can still journal, switch and record.
pub const RESERVE_BYTES: u64 = 2 * 1024 * 1024;

/// Below this much free space the reserve is used.
const FULL_BELOW: u64 = 4 * RESERVE_BYTES;

/// The reserve is only made where it leaves at least this much free.
const ROOM_FOR_RESERVE: u64 = 8 * RESERVE_BYTES;

impl crate::Site {
    /// `<root>/.hoist-reserve`.
    pub fn reserve_path(&self) -> std::path::PathBuf {
        self.root().join(".hoist-reserve")
    }

    /// Makes the reserve if it is missing and the disk has room for it;
    /// best effort (a site on a nearly full disk simply has none).
    pub fn keep_reserve(&self) {
        let path = self.reserve_path();
        if path.exists() {
            return;
        }
        let room = free_space(self.root()).is_ok_and(|free| free.bytes > ROOM_FOR_RESERVE);
        if !room {
            return;
        }
        let made = (|| -> std::io::Result<()> {
            use std::io::Write;
            let temp = self.root().join(".hoist-reserve.tmp");
            let mut file = std::fs::File::create(&temp)?;
            // Written, not fallocated: a sparse or lazily allocated file would reserve nothing.
            let block = vec![0u8; 64 * 1024];
            for _ in 0..RESERVE_BYTES / block.len() as u64 {
                file.write_all(&block)?;
            }
            file.sync_all()?;
            std::fs::rename(&temp, &path)
        })();
        if made.is_err() {
            let _ = std::fs::remove_file(self.root().join(".hoist-reserve.tmp"));
        }
    }

    /// When the disk is (nearly) full, frees the reserve: `Some(true)` if
    /// it did, `Some(false)` if there was none left to free; `None` when
    /// the disk is not full.
    pub fn use_reserve_if_full(&self) -> Option<bool> {
        let full = free_space(self.root()).is_ok_and(|free| free.bytes < FULL_BELOW);
        full.then(|| std::fs::remove_file(self.reserve_path()).is_ok())
    }
}
