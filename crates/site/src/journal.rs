//! The journal: the operation in flight, written durably before each step.
//!
//! If hoist dies mid-operation the journal survives, names the last step
//! begun, and `hoist recover` reads it to finish or undo the work.

use crate::{durable, identity, Op, Site, SiteError, Step};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Set to a step name to make hoist kill itself with SIGKILL right after
/// journaling that step: the crash tests use it to die at every step.
pub const FAULT_ENV: &str = "HOIST_FAULT_KILL_AT";

/// What is recorded about an operation in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// Unique id, shared with the ledger row this operation will write.
    pub op_id: String,
    /// What operation.
    pub op: Op,
    /// The release being made live (or pruned).
    pub release: String,
    /// The release live when the operation began.
    pub from: Option<String>,
    /// The last step begun.
    pub step: Step,
    /// The user who ran it.
    pub user: String,
    /// The host it ran on.
    pub host: String,
    /// Its pid.
    pub pid: u32,
    /// When it started.
    pub started_at: jiff::Timestamp,
    /// The reason the user gave.
    pub reason: Option<String>,
    /// The artifact copy under `incoming/`, to clean up.
    pub incoming: Option<PathBuf>,
    /// The agent holds requests for this operation: recovery releases them.
    #[serde(default)]
    pub paused: bool,
    /// Migrations were undone for this operation (`rollback --with-db`):
    /// from here on, finishing the rollback is the only consistent end.
    #[serde(default)]
    pub schema_changed: bool,
    /// The `phase = pre` migrations this operation set out to apply,
    /// noted before they run: what `hoist recover` undoes if the switch
    /// never happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrating: Vec<u64>,
    /// The data pointer move a code switch makes with it
    /// (`rollback --with-data`): what recovery finishes or puts back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataMove>,
    /// The process group of the hook running now: what `hoist recover`
    /// stops (those of its processes marked `HOIST_OP=<op_id>`) if hoist
    /// was killed while it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_group: Option<u32>,
}

/// A move of `data/current` that is part of a code switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataMove {
    /// The data version live before (none: no data was live).
    pub from: Option<String>,
    /// The data version the switch goes to.
    pub to: String,
}

/// An open journal for the operation this process runs.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    record: JournalRecord,
    /// Who may read it (it names users and hosts).
    access: crate::StateAccess,
}

impl Journal {
    /// Starts journaling a new operation; its first step is `begin`.
    pub fn begin(
        site: &Site,
        op: Op,
        release: &str,
        from: Option<String>,
        reason: Option<String>,
    ) -> Result<Journal, SiteError> {
        let started_at = jiff::Timestamp::now();
        let record = JournalRecord {
            op_id: format!("{}-{}", started_at.as_nanosecond(), std::process::id()),
            op,
            release: release.to_owned(),
            from,
            step: Step::Begin,
            user: identity::user_name(),
            host: identity::host_name(),
            pid: std::process::id(),
            started_at,
            reason,
            incoming: None,
            paused: false,
            schema_changed: false,
            migrating: Vec::new(),
            data: None,
            hook_group: None,
        };
        let mut journal = Journal {
            path: site.journal_path(),
            record,
            access: site.state_access(),
        };
        journal.write()?;
        fault_point(Step::Begin);
        Ok(journal)
    }

    /// Takes over a pending record (for `hoist recover`).
    pub fn resume(site: &Site, record: JournalRecord) -> Journal {
        Journal {
            path: site.journal_path(),
            record,
            access: site.state_access(),
        }
    }

    /// The record as last written.
    pub fn record(&self) -> &JournalRecord {
        &self.record
    }

    /// Notes the process group of the hook starting (`None`: it ended).
    pub fn set_hook_group(&mut self, group: Option<u32>) -> Result<(), SiteError> {
        if self.record.hook_group == group {
            return Ok(());
        }
        self.record.hook_group = group;
        self.write()
    }

    /// Notes where the artifact copy lives, durably, before it is written.
    pub fn set_incoming(&mut self, path: PathBuf) -> Result<(), SiteError> {
        self.record.incoming = Some(path);
        self.write()
    }

    /// The artifact copy in `incoming/` now belongs to a release on disk
    /// (`hoist repair` restores from it): noted durably, so neither the end
    /// of the operation nor `hoist recover` removes it.
    pub fn keep_incoming(&mut self) -> Result<(), SiteError> {
        self.record.incoming = None;
        self.write()
    }

    /// Notes, durably, whether the agent holds requests for this operation.
    pub fn set_paused(&mut self, paused: bool) -> Result<(), SiteError> {
        self.record.paused = paused;
        self.write()
    }

    /// Notes, durably, that the schema changed for this operation.
    pub fn set_schema_changed(&mut self) -> Result<(), SiteError> {
        self.record.schema_changed = true;
        self.write()
    }

    /// Notes, durably, the migrations about to run (before they run).
    pub fn set_migrating(&mut self, versions: Vec<u64>) -> Result<(), SiteError> {
        self.record.migrating = versions;
        self.write()
    }

    /// Forgets, in memory only, that requests are held: for the end of the
    /// operation, when the journal file is about to go.
    pub fn forget_paused(&mut self) {
        self.record.paused = false;
    }

    /// Notes, durably, the data pointer move this switch makes, before it is made.
    pub fn set_data(&mut self, data: DataMove) -> Result<(), SiteError> {
        self.record.data = Some(data);
        self.write()
    }

    /// Durably records that `step` is about to begin.
    pub fn step(&mut self, step: Step) -> Result<(), SiteError> {
        self.record.step = step;
        self.write()?;
        fault_point(step);
        Ok(())
    }

    /// The operation is over, whatever its outcome: remove the journal.
    pub fn finish(self) -> Result<(), SiteError> {
        durable::remove_file(&self.path)
    }

    /// The interrupted operation, if any.
    pub fn pending(site: &Site) -> Result<Option<JournalRecord>, SiteError> {
        let path = site.journal_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SiteError::Io {
                    action: "cannot read",
                    path,
                    cause: source,
                })
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| SiteError::BadStateFile {
                path,
                message: error.to_string(),
            })
    }

    fn write(&mut self) -> Result<(), SiteError> {
        let json = serde_json::to_vec_pretty(&self.record).expect("journal serializes");
        durable::write_state(&self.path, &json, self.access)
    }
}

/// Dies by SIGKILL when [`FAULT_ENV`] names `step` (the crash tests).
fn fault_point(step: Step) {
    fault_at(step.as_str());
}

/// Dies by SIGKILL when [`FAULT_ENV`] is `name`: a point inside a step
/// the crash tests kill hoist at too (`expand-backfill`: each step of an
/// expansion, once the database recorded it).
pub fn fault_at(name: &str) {
    if std::env::var(FAULT_ENV).is_ok_and(|at| at == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_survives_until_finished() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        let mut journal = Journal::begin(&site, Op::Deploy, "b", Some("a".into()), None).unwrap();
        journal.step(Step::Unpack).unwrap();
        let pending = Journal::pending(&site).unwrap().unwrap();
        assert_eq!(
            (pending.step, pending.from.as_deref()),
            (Step::Unpack, Some("a"))
        );
        journal.finish().unwrap();
        assert!(Journal::pending(&site).unwrap().is_none());
    }

    #[test]
    fn unreadable_journal_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        std::fs::write(site.journal_path(), b"{not json").unwrap();
        let error = Journal::pending(&site).unwrap_err().to_string();
        assert!(error.contains("journal.json"), "{error}");
    }
}
