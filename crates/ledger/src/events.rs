//! The append-only event log.

use crate::{Ledger, LedgerError};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It did what was asked.
    Ok,
    /// It failed before changing what is live.
    Failed,
    /// It switched, failed its restart or health check, and switched back.
    RolledBack,
    /// It was killed and `recover` cleaned up after it.
    Interrupted,
    /// Nothing needed doing (e.g. deploying the live release).
    Noop,
}

impl Outcome {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled-back",
            Outcome::Interrupted => "interrupted",
            Outcome::Noop => "noop",
        }
    }

    fn parse(text: &str) -> Outcome {
        match text {
            "ok" => Outcome::Ok,
            "rolled-back" => Outcome::RolledBack,
            "interrupted" => Outcome::Interrupted,
            "noop" => Outcome::Noop,
            _ => Outcome::Failed,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Shared with the journal, so recovery never records an operation twice.
    pub op_id: String,
    /// `deploy`, `rollback`, `prune`, `recover` or `unlock`.
    pub op: String,
    /// The release the operation was about.
    pub release: Option<String>,
    /// Live before.
    pub from: Option<String>,
    /// Live after.
    pub to: Option<String>,
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
}

impl Event {
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
            outcome: Outcome::Ok,
            reason: None,
            detail: None,
            user,
            host,
            started_at: now,
            finished_at: now,
            duration_ms: 0,
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
            outcome: Outcome::parse(&outcome),
            reason: row.get("reason")?,
            detail: row.get("detail")?,
            user: row.get("user")?,
            host: row.get("host")?,
            started_at: parse_time(row.get("started_at")?),
            finished_at: parse_time(row.get("finished_at")?),
            duration_ms: duration.max(0) as u64,
        })
    }
}

pub(crate) fn parse_time(text: String) -> jiff::Timestamp {
    text.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

impl Ledger {
    /// Appends `event`; a second record with the same `op_id` is ignored.
    pub fn record(&self, event: &Event) -> Result<(), LedgerError> {
        insert_event(&self.conn, event).map_err(self.wrap())
    }

    /// Whether an operation was already recorded (recovery checks this).
    pub fn has_event(&self, op_id: &str) -> Result<bool, LedgerError> {
        self.conn
            .query_row("SELECT 1 FROM events WHERE op_id = ?1", [op_id], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(self.wrap())
    }

    /// The newest `limit` events, newest first.
    pub fn events(&self, limit: usize) -> Result<Vec<Event>, LedgerError> {
        let mut statement = self
            .conn
            .prepare("SELECT * FROM events ORDER BY seq DESC LIMIT ?1")
            .map_err(self.wrap())?;
        let rows = statement
            .query_map([limit as i64], Event::from_row)
            .map_err(self.wrap())?;
        rows.collect::<Result<_, _>>().map_err(self.wrap())
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

pub(crate) fn insert_event(conn: &rusqlite::Connection, event: &Event) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO events (op_id, op, release, from_release, to_release, outcome, reason, detail, user, host, started_at, finished_at, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
        ],
    )
    .map(|_| ())
}
