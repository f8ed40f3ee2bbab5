//! `hoist data roll` and `hoist data revert`: move the `data/current`
//! pointer atomically, remembering the version it pointed at before.

use crate::{DataError, DataStore};
use serde::Serialize;

/// What a roll or revert did.
#[derive(Debug, Clone, Serialize)]
pub struct RollReport {
    /// The version now live.
    pub version: String,
    /// The version live before.
    pub from: Option<String>,
    /// True when it was already live (a refresh: the app is told to reload anyway).
    pub refresh: bool,
    /// `HOIST_DATA`: the path apps read through.
    pub path: std::path::PathBuf,
}

impl DataStore<'_> {
    /// Makes `version` (default: the newest loaded) live.
    pub fn roll(&self, version: Option<&str>) -> Result<RollReport, DataError> {
        let _lock = self.lock()?;
        let target = match version {
            Some(version) => version.to_owned(),
            None => self.catalog.ids()?.pop().ok_or_else(|| {
                DataError::Nothing(
                    "no data version is loaded; load one with `hoist data load SRC`".into(),
                )
            })?,
        };
        self.switch("data-roll", &target)
    }

    /// Goes back to the version live before this one, or to `to`.
    pub fn revert(&self, to: Option<&str>) -> Result<RollReport, DataError> {
        let _lock = self.lock()?;
        let live = self.catalog.live()?;
        let target = match to {
            Some(to) => to.to_owned(),
            None => {
                let previous = self.catalog.pointer(&self.catalog.previous_link())?;
                let older = || {
                    let ids = self.catalog.ids().ok()?;
                    ids.into_iter().rfind(|id| Some(id) < live.as_ref())
                };
                previous
                    .filter(|id| Some(id) != live.as_ref() && self.catalog.version_dir(id).is_dir())
                    .or_else(older)
                    .ok_or_else(|| {
                        DataError::Nothing("there is no earlier data version to revert to".into())
                    })?
            }
        };
        self.switch("data-revert", &target)
    }

    fn switch(&self, op: &str, target: &str) -> Result<RollReport, DataError> {
        self.verify_cheaply(target)?;
        let from = self.catalog.live()?;
        let refresh = from.as_deref() == Some(target);
        if let (Some(from), false) = (&from, refresh) {
            self.catalog.point(&self.catalog.previous_link(), from)?;
        }
        self.catalog.point(&self.catalog.current_link(), target)?;
        let mut event = self.event(op, Some(target));
        event.from = from.clone();
        event.to = Some(target.to_owned());
        if refresh {
            event.detail = Some("already live: refresh".into());
        }
        self.ledger.record(&event)?;
        Ok(RollReport {
            version: target.to_owned(),
            from,
            refresh,
            path: self.catalog.current_link(),
        })
    }

    /// Before a version goes live: every file is there with its size, and
    /// every SQLite file passes `PRAGMA quick_check`.
    fn verify_cheaply(&self, id: &str) -> Result<(), DataError> {
        let meta = self.catalog.meta(id)?;
        let dir = self.catalog.version_dir(id);
        if !dir.is_dir() {
            return Err(DataError::UnknownVersion {
                version: id.to_owned(),
            });
        }
        let tampered = |detail: String| DataError::Tampered {
            version: id.to_owned(),
            detail,
        };
        for entry in meta.entries.iter().filter(|entry| entry.kind == "file") {
            let path = dir.join(&entry.path);
            let size = std::fs::metadata(&path).map(|m| m.len());
            match size {
                Ok(size) if size == entry.size => {}
                Ok(size) => {
                    return Err(tampered(format!(
                        "`{}` is {size} bytes, was {}",
                        entry.path, entry.size
                    )))
                }
                Err(error) => return Err(tampered(format!("`{}`: {error}", entry.path))),
            }
            if crate::load::is_sqlite(&path) {
                hoist_db::check_integrity(&path)
                    .map_err(|problem| DataError::Integrity { path, problem })?;
            }
        }
        Ok(())
    }
}
