//! `hoist data roll` and `hoist data revert`: move the `data/current`
//! pointer atomically, remembering the version it pointed at before.
//!
//! The pieces are separate so a caller can journal between them (the
//! deploy crate's data roll does, under the site lock): pick the target
//! ([`DataStore::roll_target`], [`DataStore::revert_target`]), then move
//! the pointer under the data lock ([`DataStore::point`]). [`DataStore::roll`]
//! and [`DataStore::revert`] do all of it and record it, for library use.

use crate::{DataError, DataLock, DataStore};
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
    /// Makes `version` (default: the newest loaded) live, and records it.
    pub fn roll(&self, version: Option<&str>) -> Result<RollReport, DataError> {
        let lock = self.lock()?;
        let target = self.roll_target(version)?;
        self.point_and_record(&lock, "data-roll", &target)
    }

    /// Goes back to the version live before this one, or to `to`, and records it.
    pub fn revert(&self, to: Option<&str>) -> Result<RollReport, DataError> {
        let lock = self.lock()?;
        let target = self.revert_target(to)?;
        self.point_and_record(&lock, "data-revert", &target)
    }

    /// The version a roll goes to: `version` (an id, a unique prefix of
    /// one, or a label: the newest version carrying it), else the newest
    /// loaded.
    pub fn roll_target(&self, version: Option<&str>) -> Result<String, DataError> {
        match version {
            Some(version) => self.resolve(version),
            None => self.catalog.ids()?.pop().ok_or_else(|| {
                DataError::Nothing(
                    "no data version is loaded; load one with `hoist data load SRC`".into(),
                )
            }),
        }
    }

    /// The version a revert goes to: `to`, else the one live before
    /// (`data/previous`), else the newest one older than the live one.
    pub fn revert_target(&self, to: Option<&str>) -> Result<String, DataError> {
        if let Some(to) = to {
            return self.resolve(to);
        }
        let live = self.catalog.live()?;
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
            })
    }

    /// The loaded version `wanted` names: its id, a prefix of exactly one
    /// id, or a label (the newest version with it).
    pub fn resolve(&self, wanted: &str) -> Result<String, DataError> {
        let ids = self.catalog.ids()?;
        if ids.iter().any(|id| id == wanted) {
            return Ok(wanted.to_owned());
        }
        let prefixed: Vec<&String> = ids.iter().filter(|id| id.starts_with(wanted)).collect();
        match prefixed.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            many => {
                return Err(DataError::Ambiguous {
                    wanted: wanted.to_owned(),
                    matches: many.iter().map(|id| (*id).clone()).collect(),
                })
            }
        }
        for id in ids.iter().rev() {
            if self.catalog.meta(id)?.label.as_deref() == Some(wanted) {
                return Ok(id.clone());
            }
        }
        Err(DataError::UnknownVersion {
            version: wanted.to_owned(),
        })
    }

    /// Whether version `id` is what `requires` (a label or an id prefix) asks for.
    pub fn satisfies(&self, id: &str, requires: &str) -> Result<bool, DataError> {
        Ok(id.starts_with(requires) || self.catalog.meta(id)?.label.as_deref() == Some(requires))
    }

    /// The newest loaded version that `requires` names, if any.
    pub fn newest_satisfying(&self, requires: &str) -> Result<Option<String>, DataError> {
        for id in self.catalog.ids()?.into_iter().rev() {
            if self.satisfies(&id, requires)? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Moves `data/current` to `target` after checking its files, and
    /// `data/previous` to the version live until now. Records nothing: the
    /// caller journals and records the operation this is a step of.
    pub fn point(&self, _lock: &DataLock, target: &str) -> Result<RollReport, DataError> {
        self.verify_cheaply(target)?;
        let from = self.catalog.live()?;
        let refresh = from.as_deref() == Some(target);
        if let (Some(from), false) = (&from, refresh) {
            self.catalog.point(&self.catalog.previous_link(), from)?;
        }
        self.catalog.point(&self.catalog.current_link(), target)?;
        Ok(RollReport {
            version: target.to_owned(),
            from,
            refresh,
            path: self.catalog.current_link(),
        })
    }

    fn point_and_record(
        &self,
        lock: &DataLock,
        op: &str,
        target: &str,
    ) -> Result<RollReport, DataError> {
        let report = self.point(lock, target)?;
        let mut event = self.event(op, Some(target));
        event.from = report.from.clone();
        event.to = Some(target.to_owned());
        if report.refresh {
            event.detail = Some("already live: refresh".into());
        }
        self.ledger.record(&event)?;
        Ok(report)
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
