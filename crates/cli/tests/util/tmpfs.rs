//! A tmpfs mounted for a test's lifetime, to fill a disk for real (needs
//! root, as CI has); unmounted on drop.

use std::path::{Path, PathBuf};

/// A mounted tmpfs.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs with mount `options` (`size=4m`) on `dir`; `None`
    /// where mounting is not allowed (not root), so the caller can skip.
    pub fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status();
        status
            .is_ok_and(|status| status.success())
            .then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}
