//! `<root>/parity/<release>.json`: the fingerprint each deploy of a
//! release took, kept beside the site (not in the ledger, whose schema
//! belongs to the ledger crate), written temp + fsync + rename.

use crate::{Fingerprint, ParityError};
use hoist_site::StateAccess;
use std::path::{Path, PathBuf};

/// Where the site at `root` keeps its fingerprint of `release`.
pub fn path(root: &Path, release: &str) -> PathBuf {
    root.join("parity").join(format!("{release}.json"))
}

/// Stores `fingerprint` as the site's record of `release`, durably.
pub fn save(
    root: &Path,
    release: &str,
    fingerprint: &Fingerprint,
    access: StateAccess,
) -> Result<PathBuf, ParityError> {
    let file = path(root, release);
    let dir = root.join("parity");
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).map_err(|source| ParityError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        hoist_site::durable::fsync_dir(root)?;
    }
    let mut text = serde_json::to_string_pretty(fingerprint).unwrap_or_default();
    text.push('\n');
    hoist_site::durable::write_state(&file, text.as_bytes(), access)?;
    Ok(file)
}

/// The site at `root`'s record of `release`, if it has one.
pub fn load(root: &Path, release: &str) -> Result<Option<Fingerprint>, ParityError> {
    let file = path(root, release);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ParityError::Io {
                action: "read",
                path: file,
                source,
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| ParityError::Corrupt {
            path: file,
            problem: error.to_string(),
        })
}
