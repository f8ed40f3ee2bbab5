//! `hoist data list` and `hoist data prune`.

use crate::{tree, DataError, DataStore};
use serde::Serialize;

/// One version, for `hoist data list`.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    /// Its id.
    pub id: String,
    /// `--label`.
    pub label: Option<String>,
    /// When it was loaded.
    pub created: jiff::Timestamp,
    /// Content digest: the same data has the same one on every site.
    pub digest: String,
    /// Bytes of its files.
    pub bytes: u64,
    /// Number of files.
    pub files: u64,
    /// Whether `data/current` points at it.
    pub live: bool,
    /// Whether `revert` would go to it.
    pub previous: bool,
}

/// What a prune removed.
#[derive(Debug, Clone, Serialize)]
pub struct DataPruneReport {
    /// Removed versions.
    pub removed: Vec<String>,
    /// Kept versions.
    pub kept: Vec<String>,
}

impl DataStore<'_> {
    /// Every loaded version, oldest first.
    pub fn list(&self) -> Result<Vec<VersionInfo>, DataError> {
        let live = self.catalog.live()?;
        let previous = self.catalog.pointer(&self.catalog.previous_link())?;
        let mut versions = Vec::new();
        for id in self.catalog.ids()? {
            let meta = self.catalog.meta(&id)?;
            versions.push(VersionInfo {
                live: live.as_deref() == Some(id.as_str()),
                previous: previous.as_deref() == Some(id.as_str()),
                id,
                label: meta.label,
                created: meta.created_at,
                digest: meta.digest,
                bytes: meta.bytes,
                files: meta.files,
            });
        }
        Ok(versions)
    }

    /// Keeps the newest `keep` versions, and always the live and previous ones.
    pub fn prune(&self, keep: usize) -> Result<DataPruneReport, DataError> {
        let _lock = self.lock()?;
        let protected = [
            self.catalog.live()?,
            self.catalog.pointer(&self.catalog.previous_link())?,
        ];
        let ids = self.catalog.ids()?;
        let newest = ids.len().saturating_sub(keep);
        let mut report = DataPruneReport {
            removed: Vec::new(),
            kept: Vec::new(),
        };
        for (index, id) in ids.into_iter().enumerate() {
            if index >= newest || protected.iter().flatten().any(|p| *p == id) {
                report.kept.push(id);
                continue;
            }
            // Renamed first, so a crash mid-delete leaves a `.deleting` leftover, not half a version.
            let dir = self.catalog.version_dir(&id);
            let doomed = dir.with_file_name(format!("{id}.deleting"));
            hoist_site::durable::rename(&dir, &doomed)?;
            hoist_site::durable::remove_file(&self.catalog.meta_path(&id))?;
            tree::remove(&doomed).map_err(DataError::io("cannot remove", &doomed))?;
            report.removed.push(id);
        }
        if !report.removed.is_empty() {
            let mut event = self.event("data-prune", None);
            event.detail = Some(format!("removed {}", report.removed.join(", ")));
            self.ledger.record(&event)?;
        }
        Ok(report)
    }
}
