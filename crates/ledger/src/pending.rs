//! Writes the ledger could not take, kept for later.
//!
//! An emergency rollback on a site whose ledger is damaged, or whose disk
//! is full, must still happen, and must still be told. So every ledger
//! write is a [`Write`] value: applied to the ledger when it can be, else
//! appended as one JSON line to `ledger-pending.jsonl` (fsync'd) and
//! applied by the next [`Ledger::open`] that can write. Applying is
//! idempotent (events are keyed by `op_id`), so a crash between applying
//! and removing the file does no harm.

use crate::{Event, Ledger, LedgerError, ReleaseRow, ReleaseState, Switch};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};

/// One change to the ledger, as a value that can wait in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "write", rename_all = "kebab-case")]
pub enum Write {
    /// An event alone ([`Ledger::record`]).
    Event {
        /// The event.
        event: Event,
    },
    /// A switch of `current` ([`Ledger::record_switch`]).
    Switch {
        /// The event describing it.
        event: Event,
        /// The release now live.
        live: String,
        /// The release that was live, and the state it is left in.
        left: Option<(String, ReleaseState)>,
    },
    /// A release that failed ([`Ledger::fail_release`]).
    Failure {
        /// The release.
        release: String,
        /// Why.
        failure: String,
        /// The event describing it.
        event: Event,
    },
    /// A release unpacked ([`Ledger::add_release`]).
    Release {
        /// Its row.
        row: ReleaseRow,
    },
}

/// Where a write went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Into the ledger.
    Recorded,
    /// Into the pending file, because the ledger said `problem`.
    Deferred {
        /// Why the ledger could not take it.
        problem: String,
        /// The pending file.
        pending: PathBuf,
    },
}

/// `ledger-pending.jsonl`, beside the ledger.
pub fn pending_path(ledger: &Path) -> PathBuf {
    ledger.with_file_name("ledger-pending.jsonl")
}

impl Ledger {
    /// Applies `write` to the ledger.
    pub fn write(&self, write: &Write) -> Result<(), LedgerError> {
        match &*self.tagged_write(write) {
            Write::Event { event } => self.record(event),
            Write::Switch { event, live, left } => self.record_switch(&Switch {
                event,
                live,
                left: left
                    .as_ref()
                    .map(|(release, state)| (release.as_str(), *state)),
            }),
            Write::Failure {
                release,
                failure,
                event,
            } => self.fail_release(release, failure, event),
            Write::Release { row } => self.add_release(row),
        }
    }

    /// `write` with its event tagged by this ledger's fleet operation.
    fn tagged_write<'a>(&self, write: &'a Write) -> std::borrow::Cow<'a, Write> {
        use std::borrow::Cow;
        if self.fleet_op.is_none() {
            return Cow::Borrowed(write);
        }
        let tag = |event: &Event| match self.tagged(event) {
            Cow::Owned(event) => Some(event),
            Cow::Borrowed(_) => None,
        };
        let mut owned = write.clone();
        let changed = match &mut owned {
            Write::Event { event } | Write::Switch { event, .. } | Write::Failure { event, .. } => {
                tag(event).map(|tagged| *event = tagged).is_some()
            }
            Write::Release { .. } => false,
        };
        if changed {
            Cow::Owned(owned)
        } else {
            Cow::Borrowed(write)
        }
    }

    /// Applies `write`, or sets it aside in the pending file when the
    /// ledger cannot take it. Errors only if neither worked.
    pub fn write_or_defer(&self, write: &Write) -> Result<Written, LedgerError> {
        let problem = match self.write(write) {
            Ok(()) => return Ok(Written::Recorded),
            Err(error) => error.to_string(),
        };
        let pending = pending_path(&self.path);
        match append(&pending, &self.tagged_write(write)) {
            Ok(()) => Ok(Written::Deferred { problem, pending }),
            Err(source) => Err(LedgerError::NotRecorded {
                path: self.path.clone(),
                problem,
                pending,
                cause: source,
            }),
        }
    }

    /// Applies every pending write, in order, then removes the file.
    /// Returns how many there were; on error the file stays as it was.
    pub fn replay_pending(&self) -> Result<usize, LedgerError> {
        let pending = pending_path(&self.path);
        let writes = match read(&pending) {
            Ok(writes) => writes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(source) => {
                return Err(LedgerError::NotRecorded {
                    path: self.path.clone(),
                    problem: "the pending writes could not be read".into(),
                    pending,
                    cause: source,
                })
            }
        };
        // Each write is its own transaction; if one fails the file stays
        // whole, and those already applied apply again harmlessly.
        for write in &writes {
            self.write(write)?;
        }
        std::fs::remove_file(&pending).map_err(|source| LedgerError::NotRecorded {
            path: self.path.clone(),
            problem: "replayed, but the pending file could not be removed".into(),
            pending: pending.clone(),
            cause: source,
        })?;
        Ok(writes.len())
    }
}

/// Appends one line and makes it durable before returning. The file is
/// as private as the ledger it stands in for (owner only when unsure).
fn append(pending: &Path, write: &Write) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut line = serde_json::to_vec(write).expect("writes serialize");
    line.push(b'\n');
    let ledger = std::fs::metadata(pending.with_file_name("ledger.sqlite")).ok();
    let mode = ledger
        .as_ref()
        .map_or(0o600, |ledger| ledger.mode() & 0o640);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .open(pending)?;
    if let Some(ledger) = &ledger {
        // Same group as the ledger (a no-op, or refused, unless running as root).
        let _ = std::os::unix::fs::fchown(&file, None, Some(ledger.gid()));
    }
    file.write_all(&line)?;
    file.sync_all()?;
    if let Some(dir) = pending.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The pending writes; a torn last line (a crash mid-append) is dropped.
fn read(pending: &Path) -> std::io::Result<Vec<Write>> {
    let file = std::fs::File::open(pending)?;
    let mut writes = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        if let Ok(write) = serde_json::from_str(&line?) {
            writes.push(write);
        }
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;

    fn event(op_id: &str) -> Event {
        Event {
            op_id: op_id.into(),
            release: Some("b".into()),
            to: Some("b".into()),
            outcome: Outcome::Ok,
            ..Event::one_off("rollback", "alice".into(), "web1".into())
        }
    }

    #[test]
    fn switches_and_failures_wait_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        drop(Ledger::open(&path).unwrap());
        let ledger = Ledger::open_read_only(&path).unwrap();
        for write in [
            Write::Switch {
                event: event("1"),
                live: "b".into(),
                left: Some(("a".into(), ReleaseState::RolledBack)),
            },
            Write::Failure {
                release: "c".into(),
                failure: "no".into(),
                event: event("2"),
            },
        ] {
            assert!(matches!(
                ledger.write_or_defer(&write).unwrap(),
                Written::Deferred { .. }
            ));
        }
        drop(ledger);
        let ledger = Ledger::open(&path).unwrap();
        assert!(ledger.has_event("1").unwrap() && ledger.has_event("2").unwrap());
    }

    #[test]
    fn a_write_the_ledger_refuses_waits_and_is_replayed_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        drop(Ledger::open(&path).unwrap());
        let write = Write::Event { event: event("1") };
        // Read-only: the write is refused and set aside.
        let ledger = Ledger::open_read_only(&path).unwrap();
        let Written::Deferred { pending, .. } = ledger.write_or_defer(&write).unwrap() else {
            panic!("a read-only ledger recorded a write");
        };
        assert!(pending.exists());
        drop(ledger);
        let ledger = Ledger::open(&path).unwrap();
        assert!(!pending.exists());
        assert!(ledger.has_event("1").unwrap());
        assert_eq!(ledger.replay_pending().unwrap(), 0);
        assert_eq!(ledger.events(10).unwrap().len(), 1);
    }
}
