//! One row per release ever unpacked, with its lifecycle state.

use crate::events::{insert_event, parse_time};
use crate::{Event, Ledger, LedgerError};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

/// Where a release stands, independent of whether it is live right now
/// (live and previous are derived from `current` and these rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseState {
    /// Unpacked and verified, never made live (or live, then replaced normally).
    Ready,
    /// Made live by a deploy or rollback that passed its checks.
    Good,
    /// Its checks, tests, restart or health check failed; never a rollback target.
    Failed,
    /// It was live and was rolled back from.
    RolledBack,
}

impl ReleaseState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Ready => "ready",
            ReleaseState::Good => "good",
            ReleaseState::Failed => "failed",
            ReleaseState::RolledBack => "rolled-back",
        }
    }

    fn parse(text: &str) -> ReleaseState {
        match text {
            "good" => ReleaseState::Good,
            "failed" => ReleaseState::Failed,
            "rolled-back" => ReleaseState::RolledBack,
            _ => ReleaseState::Ready,
        }
    }
}

/// A release as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRow {
    /// The release id.
    pub id: String,
    /// `[app] name` from the manifest.
    pub app: String,
    /// Version from the manifest.
    pub version: String,
    /// Git revision from the manifest.
    pub revision: Option<String>,
    /// Build time from the manifest.
    pub created_at: jiff::Timestamp,
    /// Content digest from the manifest.
    pub content_digest: String,
    /// Number of files.
    pub files: u64,
    /// Total file bytes.
    pub bytes: u64,
    /// Lifecycle state.
    pub state: ReleaseState,
    /// Tests counted by the test gate when it was deployed.
    pub test_count: Option<u64>,
    /// When it last became live.
    pub deployed_at: Option<jiff::Timestamp>,
    /// Who made it live.
    pub deployed_by: Option<String>,
    /// When it last stopped being live.
    pub left_live_at: Option<jiff::Timestamp>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

impl ReleaseRow {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<ReleaseRow> {
        let files: i64 = row.get("files")?;
        let bytes: i64 = row.get("bytes")?;
        let test_count: Option<i64> = row.get("test_count")?;
        let state: String = row.get("state")?;
        let time = |name: &str| -> rusqlite::Result<Option<jiff::Timestamp>> {
            Ok(row.get::<_, Option<String>>(name)?.map(parse_time))
        };
        Ok(ReleaseRow {
            id: row.get("id")?,
            app: row.get("app")?,
            version: row.get("version")?,
            revision: row.get("revision")?,
            created_at: parse_time(row.get("created_at")?),
            content_digest: row.get("content_digest")?,
            files: files.max(0) as u64,
            bytes: bytes.max(0) as u64,
            state: ReleaseState::parse(&state),
            test_count: test_count.map(|count| count.max(0) as u64),
            deployed_at: time("deployed_at")?,
            deployed_by: row.get("deployed_by")?,
            left_live_at: time("left_live_at")?,
            failure: row.get("failure")?,
        })
    }
}

/// A switch of `current`, recorded in one transaction with its event.
#[derive(Debug, Clone)]
pub struct Switch<'a> {
    /// The event describing it.
    pub event: &'a Event,
    /// The release now live.
    pub live: &'a str,
    /// The release that was live, and the state it is left in.
    pub left: Option<(&'a str, ReleaseState)>,
}

impl Ledger {
    /// Records a newly unpacked release (or refreshes its metadata).
    pub fn add_release(&self, row: &ReleaseRow) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO releases (id, app, version, revision, created_at, content_digest, files, bytes, state, test_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(id) DO UPDATE SET test_count = excluded.test_count,
                     state = CASE WHEN state = 'failed' THEN 'ready' ELSE state END, failure = NULL",
                params![
                    row.id,
                    row.app,
                    row.version,
                    row.revision,
                    row.created_at.to_string(),
                    row.content_digest,
                    row.files as i64,
                    row.bytes as i64,
                    row.state.as_str(),
                    row.test_count.map(|count| count as i64),
                ],
            )
            .map(|_| ())
            .map_err(self.wrap())
    }

    /// One release.
    pub fn release(&self, id: &str) -> Result<Option<ReleaseRow>, LedgerError> {
        self.conn
            .query_row(
                "SELECT * FROM releases WHERE id = ?1",
                [id],
                ReleaseRow::from_row,
            )
            .optional()
            .map_err(self.wrap())
    }

    /// All releases, oldest first.
    pub fn releases(&self) -> Result<Vec<ReleaseRow>, LedgerError> {
        let mut statement = self
            .conn
            .prepare("SELECT * FROM releases ORDER BY id")
            .map_err(self.wrap())?;
        let rows = statement
            .query_map([], ReleaseRow::from_row)
            .map_err(self.wrap())?;
        rows.collect::<Result<_, _>>().map_err(self.wrap())
    }

    /// Marks a release failed with the reason, and records the event, atomically.
    pub fn fail_release(&self, id: &str, failure: &str, event: &Event) -> Result<(), LedgerError> {
        let tx = self.conn.unchecked_transaction().map_err(self.wrap())?;
        tx.execute(
            "UPDATE releases SET state = 'failed', failure = ?2 WHERE id = ?1",
            params![id, failure],
        )
        .map_err(self.wrap())?;
        insert_event(&tx, event).map_err(self.wrap())?;
        tx.commit().map_err(self.wrap())
    }

    /// Records a successful switch: the event, the new live release, and the
    /// state the old one is left in, in one transaction.
    pub fn record_switch(&self, switch: &Switch<'_>) -> Result<(), LedgerError> {
        let at = switch.event.finished_at.to_string();
        let tx = self.conn.unchecked_transaction().map_err(self.wrap())?;
        tx.execute(
            "UPDATE releases SET state = 'good', failure = NULL, deployed_at = ?2, deployed_by = ?3 WHERE id = ?1",
            params![switch.live, at, switch.event.user],
        )
        .map_err(self.wrap())?;
        if let Some((left, state)) = switch.left {
            if left != switch.live {
                tx.execute(
                    "UPDATE releases SET state = ?2, left_live_at = ?3 WHERE id = ?1",
                    params![left, state.as_str(), at],
                )
                .map_err(self.wrap())?;
            }
        }
        insert_event(&tx, switch.event).map_err(self.wrap())?;
        tx.commit().map_err(self.wrap())
    }

    /// Forgets a pruned release.
    pub fn remove_release(&self, id: &str) -> Result<(), LedgerError> {
        self.conn
            .execute("DELETE FROM releases WHERE id = ?1", [id])
            .map(|_| ())
            .map_err(self.wrap())
    }

    /// The test count recorded at the last successful deploy, for the "tests may not drop" gate.
    pub fn last_test_count(&self) -> Result<Option<u64>, LedgerError> {
        let count: Option<i64> = self
            .conn
            .query_row(
                "SELECT test_count FROM releases WHERE test_count IS NOT NULL AND deployed_at IS NOT NULL ORDER BY deployed_at DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.wrap())?
            .flatten();
        Ok(count.map(|count| count.max(0) as u64))
    }
}

/// Inserts a whole row as it is (salvage copies rows between ledgers).
pub(crate) fn insert_full(conn: &rusqlite::Connection, row: &ReleaseRow) -> rusqlite::Result<()> {
    let time = |at: Option<jiff::Timestamp>| at.map(|at| at.to_string());
    conn.execute(
        "INSERT OR IGNORE INTO releases (id, app, version, revision, created_at, content_digest, files, bytes, state, test_count, deployed_at, deployed_by, left_live_at, failure)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            row.id,
            row.app,
            row.version,
            row.revision,
            row.created_at.to_string(),
            row.content_digest,
            row.files as i64,
            row.bytes as i64,
            row.state.as_str(),
            row.test_count.map(|count| count as i64),
            time(row.deployed_at),
            row.deployed_by,
            time(row.left_live_at),
            row.failure,
        ],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;

    fn row(id: &str) -> ReleaseRow {
        ReleaseRow {
            id: id.into(),
            app: "shop".into(),
            version: "1".into(),
            revision: None,
            created_at: jiff::Timestamp::now(),
            content_digest: "d".into(),
            files: 1,
            bytes: 10,
            state: ReleaseState::Ready,
            test_count: Some(5),
            deployed_at: None,
            deployed_by: None,
            left_live_at: None,
            failure: None,
        }
    }

    fn event(op_id: &str, to: &str) -> Event {
        let now = jiff::Timestamp::now();
        Event {
            op_id: op_id.into(),
            op: "deploy".into(),
            release: Some(to.into()),
            from: None,
            to: Some(to.into()),
            candidate: None,
            migrations: Vec::new(),
            outcome: Outcome::Ok,
            reason: None,
            detail: None,
            user: "alice".into(),
            host: "web1".into(),
            started_at: now,
            finished_at: now,
            duration_ms: 3,
            fleet_op: None,
            notes: None,
        }
    }

    #[test]
    fn switch_updates_both_releases_and_logs_once() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        ledger.add_release(&row("a")).unwrap();
        ledger.add_release(&row("b")).unwrap();
        let first = event("1", "a");
        ledger
            .record_switch(&Switch {
                event: &first,
                live: "a",
                left: None,
            })
            .unwrap();
        let second = event("2", "b");
        ledger
            .record_switch(&Switch {
                event: &second,
                live: "b",
                left: Some(("a", ReleaseState::Good)),
            })
            .unwrap();
        ledger.record(&second).unwrap(); // a replayed op_id is ignored
        assert_eq!(ledger.events(10).unwrap().len(), 2);
        let a = ledger.release("a").unwrap().unwrap();
        assert!(a.left_live_at.is_some());
        assert_eq!(
            ledger.release("b").unwrap().unwrap().deployed_by.as_deref(),
            Some("alice")
        );
        assert_eq!(ledger.last_test_count().unwrap(), Some(5));
        assert!(ledger.has_event("2").unwrap());
    }
}
