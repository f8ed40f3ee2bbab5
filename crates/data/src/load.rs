//! `hoist data load` and `hoist data pull`: copy, verify, seal, record.

use crate::catalog::Meta;
use crate::tree::{self, Previous};
use crate::{DataError, DataStore};
use serde::Serialize;
use std::path::Path;

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadRequest {
    /// A file or directory.
    pub source: std::path::PathBuf,
    /// `--label`.
    pub label: Option<String>,
    /// `--check`: run in the new version with `HOIST_DATA` set; non-zero refuses it.
    pub check: Option<String>,
}

/// The id and digest a load must come to: how every host of a stage gets
/// one version under one id (a load's own id holds the time it ran).
#[derive(Debug, Clone)]
pub struct Expected {
    /// The id to give the version: `<time>-<first 12 of its digest>`.
    pub id: String,
    /// The content digest it must have, else nothing is loaded.
    pub digest: String,
}

/// A new version id for content `digest` loaded at `at`: ids sort by load
/// time, and milliseconds keep two loads in one second in load order.
pub fn new_id(digest: &str, at: jiff::Timestamp) -> String {
    format!(
        "{}{:03}Z-{}",
        at.strftime("%Y%m%dT%H%M%S."),
        at.subsec_millisecond(),
        &digest[..digest.len().min(12)]
    )
}

/// Whether `id` is a name a version can have (no path, no hidden file).
fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && !id.contains(".partial")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// What a load did.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The new version's id.
    pub version: String,
    /// `--label`.
    pub label: Option<String>,
    /// Content digest.
    pub digest: String,
    /// Files in the version.
    pub files: u64,
    /// Bytes in the version.
    pub bytes: u64,
    /// Files copied.
    pub files_written: u64,
    /// Files hard-linked from the previous version (unchanged).
    pub files_linked: u64,
    /// Bytes copied.
    pub bytes_written: u64,
    /// SQLite files that passed `PRAGMA integrity_check`.
    pub sqlite_checked: Vec<String>,
    /// True when an identical version with the same id was already there.
    pub already_loaded: bool,
    /// Wall time.
    pub duration_ms: u64,
}

impl DataStore<'_> {
    /// Loads `request.source` as a new version. It is not live until `roll`.
    pub fn load(
        &self,
        request: &LoadRequest,
        on_bytes: &mut dyn FnMut(u64, u64),
    ) -> Result<LoadReport, DataError> {
        self.load_as(request, None, on_bytes)
    }

    /// [`DataStore::load`] as version `expected.id`, refused unless the
    /// copy digests to `expected.digest`.
    pub fn load_as(
        &self,
        request: &LoadRequest,
        expected: Option<&Expected>,
        on_bytes: &mut dyn FnMut(u64, u64),
    ) -> Result<LoadReport, DataError> {
        let started = std::time::Instant::now();
        if let Some(expected) = expected.filter(|expected| !plain_id(&expected.id)) {
            return Err(DataError::BadId {
                id: expected.id.clone(),
            });
        }
        let _lock = self.lock()?;
        let source = request.source.display().to_string();
        let report = self.load_locked(request, expected, &source, on_bytes, started)?;
        let mut event = self.event("data-load", Some(&report.version));
        event.reason = request.label.clone();
        event.detail = Some(format!(
            "from {source}: {} files, {} bytes; {} written, {} linked",
            report.files, report.bytes, report.files_written, report.files_linked
        ));
        event.duration_ms = report.duration_ms;
        self.ledger.record(&event)?;
        Ok(report)
    }

    /// Copies another site's live version into this one, verified against
    /// that site's digest: the nightly production → dev refresh.
    pub fn pull(
        &self,
        from_root: &Path,
        on_bytes: &mut dyn FnMut(u64, u64),
    ) -> Result<LoadReport, DataError> {
        let started = std::time::Instant::now();
        let other = crate::Catalog::open_existing(&from_root.join("data"))?;
        let id = other.live()?.ok_or_else(|| {
            DataError::Nothing(format!(
                "`{}` has no live data version to pull",
                from_root.display()
            ))
        })?;
        let theirs = other.meta(&id)?;
        let _lock = self.lock()?;
        let request = LoadRequest {
            source: other.version_dir(&id),
            label: Some(format!("pulled {id} from {}", from_root.display())),
            check: None,
        };
        let source = format!("{}:{id}", from_root.display());
        let report = self.load_locked(&request, None, &source, on_bytes, started)?;
        if report.digest != theirs.digest {
            self.discard(&report.version);
            return Err(DataError::Corrupt {
                path: request.source,
                detail: format!("digest {} here, {} there", report.digest, theirs.digest),
            });
        }
        let mut event = self.event("data-pull", Some(&report.version));
        // Copied from the other site's version into this new one.
        event.from = Some(format!("{}:{id}", from_root.display()));
        event.to = Some(report.version.clone());
        event.detail = request.label;
        event.duration_ms = report.duration_ms;
        self.ledger.record(&event)?;
        Ok(report)
    }

    fn load_locked(
        &self,
        request: &LoadRequest,
        expected: Option<&Expected>,
        source: &str,
        on_bytes: &mut dyn FnMut(u64, u64),
        started: std::time::Instant,
    ) -> Result<LoadReport, DataError> {
        for leftover in self.catalog.leftovers() {
            let _ = tree::remove(&leftover);
        }
        let total = tree::total_bytes(&request.source);
        let partial = self
            .catalog
            .dir()
            .join("versions")
            .join(format!(".load-{}.partial", std::process::id()));
        std::fs::create_dir(&partial).map_err(DataError::io("cannot create", &partial))?;
        let result = self.fill(request, &partial, total, on_bytes);
        let (copied, sqlite_checked) = match result {
            Ok(done) => done,
            Err(error) => {
                let _ = tree::remove(&partial);
                return Err(error);
            }
        };
        let digest = tree::digest(&copied.entries);
        let now = jiff::Timestamp::now();
        let id = match expected {
            Some(expected) => {
                let named = expected.id.ends_with(&format!("-{}", &digest[..12]));
                if digest != expected.digest || !named {
                    let _ = tree::remove(&partial);
                    return Err(DataError::Corrupt {
                        path: request.source.clone(),
                        detail: format!(
                            "digest {digest} here, {} sent as `{}`",
                            expected.digest, expected.id
                        ),
                    });
                }
                expected.id.clone()
            }
            None => new_id(&digest, now),
        };
        let files = copied.entries.iter().filter(|e| e.kind == "file").count() as u64;
        let bytes = copied.entries.iter().map(|e| e.size).sum();
        let mut report = LoadReport {
            version: id.clone(),
            label: request.label.clone(),
            digest: digest.clone(),
            files,
            bytes,
            files_written: copied.files_written,
            files_linked: copied.files_linked,
            bytes_written: copied.bytes_written,
            sqlite_checked,
            already_loaded: false,
            duration_ms: 0,
        };
        let existing = self
            .catalog
            .version_dir(&id)
            .is_dir()
            .then(|| self.catalog.meta(&id));
        if let Some(meta) = existing {
            // Same content under the same id: that version already is this one.
            if meta?.digest != digest {
                let _ = tree::remove(&partial);
                return Err(DataError::BadId { id });
            }
            let _ = tree::remove(&partial);
            report.already_loaded = true;
        } else {
            tree::seal(&partial, &copied.entries)?;
            let meta = Meta {
                id: id.clone(),
                label: request.label.clone(),
                created_at: now,
                source: source.to_owned(),
                digest,
                bytes,
                files,
                entries: copied.entries,
            };
            // Metadata first: a version dir is only listed once its metadata exists.
            self.catalog.write_meta(&meta)?;
            hoist_site::durable::rename(&partial, &self.catalog.version_dir(&id))?;
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Copies, syncs and verifies into `partial`; returns the copy and the SQLite files checked.
    fn fill(
        &self,
        request: &LoadRequest,
        partial: &Path,
        total: u64,
        on_bytes: &mut dyn FnMut(u64, u64),
    ) -> Result<(tree::Copied, Vec<String>), DataError> {
        let newest = self.catalog.ids()?.pop();
        let newest_meta = newest
            .as_deref()
            .map(|id| self.catalog.meta(id))
            .transpose()?;
        let newest_dir = newest.as_deref().map(|id| self.catalog.version_dir(id));
        let previous = match (&newest_meta, &newest_dir) {
            (Some(meta), Some(dir)) => Some(Previous {
                dir,
                entries: meta.entries.iter().map(|e| (e.path.as_str(), e)).collect(),
            }),
            _ => None,
        };
        let mut done = 0u64;
        let copied = tree::copy_tree(&request.source, partial, previous.as_ref(), &mut |bytes| {
            done += bytes;
            on_bytes(done, total);
        })?;
        // One syncfs for the whole copy, then read every written file back.
        hoist_site::durable::sync_filesystem(partial)?;
        for (path, expected) in &copied.written {
            let actual = tree::hash_file(path, &mut |_| {})?;
            if &actual != expected {
                return Err(DataError::Corrupt {
                    path: path.clone(),
                    detail: format!("read back {actual}, copied {expected}"),
                });
            }
        }
        let mut sqlite_checked = Vec::new();
        for entry in copied.entries.iter().filter(|e| e.kind == "file") {
            let path = partial.join(&entry.path);
            if is_sqlite(&path) {
                hoist_db::check_integrity(&path).map_err(|problem| DataError::Integrity {
                    path: request_path(request, &entry.path),
                    problem,
                })?;
                sqlite_checked.push(entry.path.clone());
            }
        }
        if let Some(check) = &request.check {
            let dir = partial.display().to_string();
            let env = [("HOIST_DATA", dir.as_str())];
            let finished = hoist_site::command::run(check, partial, &env)
                .map_err(DataError::io("cannot run the check in", partial))?;
            if !finished.success {
                return Err(DataError::CheckFailed {
                    command: check.clone(),
                    status: finished.status.clone(),
                    tail: finished.tail(),
                });
            }
        }
        Ok((copied, sqlite_checked))
    }

    /// Removes a version that must not stay (a pull that did not verify).
    fn discard(&self, id: &str) {
        let _ = tree::remove(&self.catalog.version_dir(id));
        let _ = std::fs::remove_file(self.catalog.meta_path(id));
    }
}

/// The path as the user named it, for messages.
fn request_path(request: &LoadRequest, relative: &str) -> std::path::PathBuf {
    if request.source.is_file() {
        request.source.clone()
    } else {
        request.source.join(relative)
    }
}

/// SQLite files start with this 16-byte header.
pub(crate) fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .is_ok_and(|()| &header == b"SQLite format 3\0")
}
