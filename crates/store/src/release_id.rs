//! Release ids: `20261122T101500Z-1.4.2-a1b2c3d`.

use crate::StoreError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A release id: sortable by creation time, shows version and revision, and
/// is fixed at build time so it is the same on every host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReleaseId(String);

impl ReleaseId {
    /// Composes an id from its parts; `version` and `revision` must already be file-name safe.
    ///
    /// A `git describe` version (`1.2-1-g8af8832`) already names the
    /// revision, so it is not said twice: the id ends `1.2-1-g8af8832`
    /// (then `-dirty` if the tree was), not `1.2-1-g8af8832-8af8832`.
    pub fn compose(
        created_at: jiff::Timestamp,
        version: &str,
        revision: &str,
    ) -> Result<ReleaseId, StoreError> {
        let stamp = created_at.strftime("%Y%m%dT%H%M%SZ");
        let (commit, suffix) = revision.split_at(revision.find('-').unwrap_or(revision.len()));
        if !commit.is_empty() && version.ends_with(&format!("-g{commit}")) {
            return ReleaseId::parse(&format!("{stamp}-{version}{suffix}"));
        }
        ReleaseId::parse(&format!("{stamp}-{version}-{revision}"))
    }

    /// Accepts an id read from the command line or disk.
    pub fn parse(text: &str) -> Result<ReleaseId, StoreError> {
        let safe = !text.is_empty()
            && text.len() <= 200
            && !text.starts_with('.')
            && !text.ends_with(".partial")
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
        if safe {
            Ok(ReleaseId(text.to_owned()))
        } else {
            Err(StoreError::BadReleaseId(text.to_owned()))
        }
    }

    /// The id as a string (also its directory name under `releases/`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ReleaseId {
    type Error = StoreError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        ReleaseId::parse(&text)
    }
}

impl From<ReleaseId> for String {
    fn from(id: ReleaseId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_sortable_ids() {
        let at: jiff::Timestamp = "2026-11-22T10:15:00Z".parse().unwrap();
        let id = ReleaseId::compose(at, "1.4.2", "a1b2c3d").unwrap();
        assert_eq!(id.as_str(), "20261122T101500Z-1.4.2-a1b2c3d");
        let later =
            ReleaseId::compose("2026-11-22T10:15:01Z".parse().unwrap(), "0.1", "x").unwrap();
        assert!(later > id);
    }

    #[test]
    fn git_describe_revision_said_once() {
        let at: jiff::Timestamp = "2026-11-22T10:15:00Z".parse().unwrap();
        let id = ReleaseId::compose(at, "1.2-1-g8af8832", "8af8832").unwrap();
        assert_eq!(id.as_str(), "20261122T101500Z-1.2-1-g8af8832");
        let dirty = ReleaseId::compose(at, "1.2-1-g8af8832", "8af8832-dirty").unwrap();
        assert_eq!(dirty.as_str(), "20261122T101500Z-1.2-1-g8af8832-dirty");
    }

    #[test]
    fn rejects_path_tricks() {
        for bad in ["", "../x", "a/b", ".hidden", "x.partial", "a b"] {
            assert!(ReleaseId::parse(bad).is_err(), "{bad}");
        }
    }
}
