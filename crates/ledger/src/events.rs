//! The append-only event log.

use crate::{Ledger, LedgerError, Outcome};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

/// One row of history; `hoist history --json` prints these (the shape is
/// documented in `docs/history.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Shared with the journal, so recovery never records an operation twice.
    pub op_id: String,
    /// `deploy`, `rollback`, `promote`, `hold`, `abort`, `prune`, `maint-on`, …
    pub op: String,
    /// The release (or data version) the operation was about.
    pub release: Option<String>,
    /// Live when it started.
    pub from: Option<String>,
    /// What it aimed at: live after it when the outcome is `ok`; `from`
    /// stays live otherwise. An operation that keeps the live release
    /// (hold, abort, restart, prune, traffic rules) has `to` = `from`.
    pub to: Option<String>,
    /// The held candidate a hold, canary, promote or abort was about.
    #[serde(default)]
    pub candidate: Option<String>,
    /// Migrations it ran or undid (db operations, deploys that migrate,
    /// `rollback --with-db`), in order.
    #[serde(default)]
    pub migrations: Vec<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why the user did it (`--reason`).
    pub reason: Option<String>,
    /// What happened, e.g. the failing check and its output tail.
    pub detail: Option<String>,
    /// Who ran it.
    pub user: String,
    /// Where.
    pub host: String,
    /// When it started.
    pub started_at: jiff::Timestamp,
    /// When it ended.
    pub finished_at: jiff::Timestamp,
    /// How long it took.
    pub duration_ms: u64,
    /// The fleet operation it was part of (`hoist deploy --stage`): every
    /// host's row of one fleet deploy, rollback or roll carries the same id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_op: Option<String>,
    /// The deployment notes shown before the switch (`hoist notes`): the
    /// commits between the releases and their `Deployment:` sections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl Event {
    /// Why it did not do what was asked: `detail` for any outcome but `ok`
    /// and `noop` (the `failure` of `hoist history --json`).
    pub fn failure(&self) -> Option<&str> {
        let failed = !matches!(self.outcome, Outcome::Ok | Outcome::Noop);
        self.detail.as_deref().filter(|_| failed)
    }

    /// An event for a one-off action that happens now (unlock, abort, an
    /// agent's own rollback): outcome ok, no duration; set the rest with
    /// struct update syntax.
    pub fn one_off(op: &str, user: String, host: String) -> Event {
        let now = jiff::Timestamp::now();
        Event {
            op_id: format!("{}-{}-{op}", now.as_nanosecond(), std::process::id()),
            op: op.to_owned(),
            release: None,
            from: None,
            to: None,
            candidate: None,
            migrations: Vec::new(),
            outcome: Outcome::Ok,
            reason: None,
            detail: None,
            user,
            host,
            started_at: now,
            finished_at: now,
            duration_ms: 0,
            fleet_op: None,
            notes: None,
        }
    }

    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
        let outcome: String = row.get("outcome")?;
        let duration: i64 = row.get("duration_ms")?;
        Ok(Event {
            op_id: row.get("op_id")?,
            op: row.get("op")?,
            release: row.get("release")?,
            from: row.get("from_release")?,
            to: row.get("to_release")?,
            // Columns an older ledger opened read-only (or salvaged) lacks read as empty.
            candidate: row.get("candidate").unwrap_or(None),
            migrations: row
                .get::<_, Option<String>>("migrations")
                .unwrap_or(None)
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default(),
            outcome: Outcome::parse(&outcome),
            reason: row.get("reason")?,
            detail: row.get("detail")?,
            user: row.get("user")?,
            host: row.get("host")?,
            started_at: parse_time(row.get("started_at")?),
            finished_at: parse_time(row.get("finished_at")?),
            duration_ms: duration.max(0) as u64,
            fleet_op: row.get("fleet_op").unwrap_or(None),
            notes: row.get("notes").unwrap_or(None),
        })
    }
}

pub(crate) fn parse_time(text: String) -> jiff::Timestamp {
    text.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

impl Ledger {
    /// Appends `event`; a second record with the same `op_id` is ignored.
    pub fn record(&self, event: &Event) -> Result<(), LedgerError> {
        insert_event(&self.conn, &self.tagged(event)).map_err(self.wrap())
    }

    /// Whether an operation was already recorded (recovery checks this).
    pub fn has_event(&self, op_id: &str) -> Result<bool, LedgerError> {
        self.conn
            .query_row("SELECT 1 FROM events WHERE op_id = ?1", [op_id], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(self.wrap())
    }

    /// The newest `limit` events, newest first: by when they started, then
    /// by when they were recorded (a write replayed from the pending file,
    /// or an interrupted operation recorded by `recover`, lands where it
    /// happened, not where it was written).
    pub fn events(&self, limit: usize) -> Result<Vec<Event>, LedgerError> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT * FROM events {NEWEST_FIRST} LIMIT ?1"))
            .map_err(self.wrap())?;
        let rows = statement
            .query_map([limit as i64], Event::from_row)
            .map_err(self.wrap())?;
        rows.collect::<Result<_, _>>().map_err(self.wrap())
    }

    /// The newest operation that changed what runs (a deploy, hold,
    /// promote, abort, rollback or restart that went through, or switched
    /// and switched back): what `hoist status` calls "last". Db, data and
    /// traffic events, and attempts that changed nothing, are in history.
    pub fn last_operation(&self) -> Result<Option<Event>, LedgerError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT * FROM events WHERE op IN ({RUNS}) AND outcome IN ('ok', 'rolled-back')
                     {NEWEST_FIRST} LIMIT 1"
                ),
                [],
                Event::from_row,
            )
            .optional()
            .map_err(self.wrap())
    }

    /// The newest event of kind `op` that made `release` live with outcome ok.
    pub fn last_switch_to(&self, release: &str) -> Result<Option<Event>, LedgerError> {
        self.conn
            .query_row(
                "SELECT * FROM events WHERE to_release = ?1 AND outcome = 'ok' AND op IN ('deploy', 'rollback', 'recover') ORDER BY seq DESC LIMIT 1",
                [release],
                Event::from_row,
            )
            .optional()
            .map_err(self.wrap())
    }
}

/// Newest first. `started_at` is RFC 3339 with as many fraction digits as
/// it needs, so it is compared as a time, not as text.
const NEWEST_FIRST: &str = "ORDER BY julianday(started_at) DESC, seq DESC";

/// Operations that change which code runs.
const RUNS: &str = "'deploy', 'hold', 'promote', 'abort', 'rollback', 'auto-rollback', 'restart'";

pub(crate) fn insert_event(conn: &rusqlite::Connection, event: &Event) -> rusqlite::Result<()> {
    let migrations = (!event.migrations.is_empty())
        .then(|| serde_json::to_string(&event.migrations).unwrap_or_default());
    conn.execute(
        "INSERT OR IGNORE INTO events (op_id, op, release, from_release, to_release, outcome, reason, detail, user, host, started_at, finished_at, duration_ms, candidate, migrations, fleet_op, notes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            event.op_id,
            event.op,
            event.release,
            event.from,
            event.to,
            event.outcome.as_str(),
            event.reason,
            event.detail,
            event.user,
            event.host,
            event.started_at.to_string(),
            event.finished_at.to_string(),
            event.duration_ms as i64,
            event.candidate,
            migrations,
            event.fleet_op,
            event.notes,
        ],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(op_id: &str, started: &str) -> Event {
        let started_at: jiff::Timestamp = started.parse().unwrap();
        Event {
            op_id: op_id.into(),
            started_at,
            finished_at: started_at,
            ..Event::one_off("deploy", "alice".into(), "web1".into())
        }
    }

    fn ids(ledger: &Ledger) -> Vec<String> {
        let events = ledger.events(10).unwrap();
        events.into_iter().map(|event| event.op_id).collect()
    }

    #[test]
    fn newest_first_by_start_then_by_insertion() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        ledger.record(&at("late", "2026-01-01T00:00:02Z")).unwrap();
        // Recorded later (replayed, or by `recover`), started earlier.
        ledger.record(&at("whole", "2026-01-01T00:00:01Z")).unwrap();
        // As text, `01Z` sorts after `01.5Z`; as a time it is before.
        ledger
            .record(&at("half", "2026-01-01T00:00:01.5Z"))
            .unwrap();
        ledger
            .record(&at("late-too", "2026-01-01T00:00:02Z"))
            .unwrap();
        assert_eq!(ids(&ledger), ["late-too", "late", "half", "whole"]);
    }

    #[test]
    fn candidate_migrations_notes_and_refusals_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let event = Event {
            outcome: Outcome::Refused,
            candidate: Some("b".into()),
            migrations: vec!["0001_a".into(), "0002_b".into()],
            notes: Some("abc1234 Prices\n\nabc1234 Prices:\n  - adds a column\n".into()),
            ..at("1", "2026-01-01T00:00:00Z")
        };
        ledger.record(&event).unwrap();
        assert_eq!(ledger.events(1).unwrap(), [event]);
    }

    // A ledger from before `candidate` and `migrations`, opened read-only
    // (which does not migrate it), still reads.
    #[test]
    fn an_older_ledger_reads_without_the_new_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        Ledger::open(&path)
            .unwrap()
            .record(&at("old", "2026-01-01T00:00:00Z"))
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "ALTER TABLE events DROP COLUMN candidate; ALTER TABLE events DROP COLUMN migrations;
             PRAGMA user_version = 2;",
        )
        .unwrap();
        drop(conn);
        let ledger = Ledger::open_read_only(&path).unwrap();
        let events = ledger.events(10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            (&events[0].candidate, events[0].migrations.len()),
            (&None, 0)
        );
        assert!(ledger.last_operation().unwrap().is_some());
    }
}
