//! Who may read the site's state files.
//!
//! The ledger, the journal, the lock and the agent's state say who deployed
//! what and hold the agent's view of the site; the admin token and env
//! files beside them hold secrets. They are created `0600`, or `0640` and
//! group-owned when the site root belongs to a group other than root's
//! (`chgrp deployers /srv/shop`), so the members of that group can run the
//! read commands (`hoist status`, `history`, `releases`) without root.

use crate::{Site, SiteError};
use nix::unistd::{fchown, Gid};
use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The mode and group a state file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateAccess {
    /// `0o600`, or `0o640` with a group.
    pub mode: u32,
    /// The site root's group, when it is not root's.
    pub group: Option<u32>,
}

impl StateAccess {
    /// Owner only: what a site without a group of its own gets.
    pub const PRIVATE: StateAccess = StateAccess {
        mode: 0o600,
        group: None,
    };

    /// The access for state files under `root`.
    pub fn for_root(root: &Path) -> StateAccess {
        match std::fs::metadata(root).map(|metadata| metadata.gid()) {
            Ok(gid) if gid != 0 => StateAccess {
                mode: 0o640,
                group: Some(gid),
            },
            _ => StateAccess::PRIVATE,
        }
    }

    /// Gives the open `file` this access (its group only when running as root).
    pub fn apply(&self, file: &File, path: &Path) -> Result<(), SiteError> {
        file.set_permissions(std::fs::Permissions::from_mode(self.mode))
            .map_err(SiteError::io("cannot set the mode of", path))?;
        if let Some(group) = self.group.filter(|_| nix::unistd::geteuid().is_root()) {
            fchown(file, None, Some(Gid::from_raw(group))).map_err(|errno| SiteError::Io {
                action: "cannot set the group of",
                path: path.to_owned(),
                cause: errno.into(),
            })?;
        }
        Ok(())
    }

    /// Gives the file at `path` this access, unless it already has no more.
    pub fn apply_to(&self, path: &Path) -> Result<(), SiteError> {
        let file = File::open(path).map_err(SiteError::io("cannot open", path))?;
        self.apply(&file, path)
    }
}

impl Site {
    /// How the site's state files are created.
    pub fn state_access(&self) -> StateAccess {
        StateAccess::for_root(self.root())
    }
}

/// Refuses a secret file (token, env file) that every local user can read
/// or change, naming the fix; returns its content.
pub fn read_secret(path: &Path) -> Result<String, SiteError> {
    let file = File::open(path).map_err(SiteError::io("cannot read", path))?;
    let mode = file
        .metadata()
        .map_err(SiteError::io("cannot stat", path))?
        .permissions()
        .mode();
    if mode & 0o007 != 0 {
        // `chmod` follows links: name the file it would change.
        let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        return Err(SiteError::SecretExposed {
            path: path.to_owned(),
            file,
            mode: mode & 0o777,
        });
    }
    std::io::read_to_string(file).map_err(SiteError::io("cannot read", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read_secret(&path).unwrap_err().to_string();
        assert!(
            error.contains("chmod 600") && error.contains("0644"),
            "{error}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(read_secret(&path).unwrap(), "s3cret");
    }
}
