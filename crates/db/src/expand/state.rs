//! The open expansion's state, kept in the database itself (table
//! `hoist_expansion`, one row) so it commits with each step's DDL and a
//! crash resumes where the last commit left it. The table exists only
//! while an expansion is open: contract and abort drop it, so an aborted
//! expansion leaves the schema exactly as it was.

use super::spec::Change;
use super::sqltext::qualified;
use super::types::{Backfill, ExpandStep};
use postgres::GenericClient;
use serde::{Deserialize, Serialize};

/// The state table's name.
pub(crate) const STATE_TABLE: &str = "hoist_expansion";

/// One table's backfill: how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// The table.
    pub table: String,
    /// Rows done.
    pub done: u64,
    /// Rows there were when it began: the planner's estimate
    /// (`pg_class.reltuples`), not a count.
    pub total: u64,
    /// Every batch ran.
    pub finished: bool,
    /// The last primary key done (each column as text); `None` before the first batch.
    pub last: Option<Vec<String>>,
}

impl Cursor {
    /// As status shows it.
    pub fn public(&self) -> Backfill {
        Backfill {
            table: self.table.clone(),
            done: self.done,
            // An estimate, and rows written since are done too: never
            // show more done than there are.
            total: self.total.max(self.done),
            finished: self.finished,
        }
    }
}

/// The open expansion.
#[derive(Debug, Clone)]
pub(crate) struct State {
    /// The migration's version.
    pub version: u64,
    /// `0005_rename_name`.
    pub name: String,
    /// The file's checksum (as in the history).
    pub checksum: String,
    /// The file's text: abort, join and complete need no file.
    pub text: String,
    /// The parsed change.
    pub change: Change,
    /// The next step to run.
    pub step: ExpandStep,
    /// Releases on the new side.
    pub new_releases: Vec<String>,
    /// Backfill progress per table.
    pub backfill: Vec<Cursor>,
    /// RFC 3339.
    pub started_at: String,
    /// `user@host`.
    pub started_by: String,
    /// Why the last run stopped, when a step failed.
    pub failed: Option<String>,
}

fn table(schema: &str) -> String {
    qualified(schema, STATE_TABLE)
}

/// Creates the state table (first step of an expansion).
pub(crate) fn create(client: &mut impl GenericClient, schema: &str) -> Result<(), postgres::Error> {
    client.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
            change TEXT NOT NULL, step TEXT NOT NULL, new_releases TEXT[] NOT NULL,
            backfill TEXT NOT NULL, started_at TEXT NOT NULL, started_by TEXT NOT NULL,
            failed TEXT)",
        table(schema)
    ))
}

/// Drops it, and the table of rows the trigger could not compute: the
/// expansion is over.
pub(crate) fn drop_table(
    client: &mut impl GenericClient,
    schema: &str,
) -> Result<(), postgres::Error> {
    client.batch_execute(&super::faults::drop_sql(schema))?;
    client.batch_execute(&format!("DROP TABLE IF EXISTS {}", table(schema)))
}

/// Records a new expansion.
pub(crate) fn insert(
    client: &mut impl GenericClient,
    schema: &str,
    state: &State,
) -> Result<(), postgres::Error> {
    client.execute(
        &format!("INSERT INTO {} (version, name, checksum, change, step, new_releases, backfill, started_at, started_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", table(schema)),
        &[&(state.version as i64), &state.name, &state.checksum, &state.text, &state.step.as_str(), &state.new_releases, &backfill_text(&state.backfill), &state.started_at, &state.started_by],
    )?;
    Ok(())
}

fn backfill_text(backfill: &[Cursor]) -> String {
    serde_json::to_string(backfill).expect("cursors serialise")
}

/// The open expansion, if any. `Err(text)` when the row cannot be read
/// back (a file hoist cannot parse: a newer hoist wrote it).
pub(crate) fn read(
    client: &mut impl GenericClient,
    schema: &str,
) -> Result<Result<Option<State>, String>, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table(schema)])?
        .get(0);
    if !exists {
        return Ok(Ok(None));
    }
    let row = client.query_opt(
        // `failed` through jsonb: a table an older hoist made lacks it.
        &format!("SELECT version, name, checksum, change, step, new_releases, backfill, started_at, started_by, to_jsonb(s) ->> 'failed' FROM {} s ORDER BY version LIMIT 1", table(schema)),
        &[],
    )?;
    let Some(row) = row else {
        return Ok(Ok(None));
    };
    let text: String = row.get(3);
    let step: String = row.get(4);
    let backfill: String = row.get(6);
    let parsed = (|| {
        Ok(State {
            version: row.get::<_, i64>(0) as u64,
            name: row.get(1),
            checksum: row.get(2),
            change: Change::parse(&text)?,
            text: text.clone(),
            step: ExpandStep::parse(&step).ok_or_else(|| format!("unknown step `{step}`"))?,
            new_releases: row.get(5),
            backfill: serde_json::from_str(&backfill).map_err(|e| e.to_string())?,
            started_at: row.get(7),
            started_by: row.get(8),
            failed: row.get(9),
        })
    })();
    Ok(parsed.map(Some))
}

/// Records the next step (in the caller's transaction, with its DDL).
pub(crate) fn set_step(
    client: &mut impl GenericClient,
    schema: &str,
    step: ExpandStep,
) -> Result<(), postgres::Error> {
    client.execute(
        &format!("UPDATE {} SET step = $1", table(schema)),
        &[&step.as_str()],
    )?;
    Ok(())
}

/// Records why a step failed (`None`: clears it). Adds the column to a
/// table an older hoist made.
pub(crate) fn set_failed(
    client: &mut impl GenericClient,
    schema: &str,
    failed: Option<&str>,
) -> Result<(), postgres::Error> {
    client.batch_execute(&format!(
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS failed TEXT",
        table(schema)
    ))?;
    client.execute(
        &format!("UPDATE {} SET failed = $1", table(schema)),
        &[&failed],
    )?;
    Ok(())
}

/// Records the new-side releases.
pub(crate) fn set_releases(
    client: &mut impl GenericClient,
    schema: &str,
    releases: &[String],
) -> Result<(), postgres::Error> {
    client.execute(
        &format!("UPDATE {} SET new_releases = $1", table(schema)),
        &[&releases],
    )?;
    Ok(())
}

/// Records backfill progress (in the batch's own transaction).
pub(crate) fn set_backfill(
    client: &mut impl GenericClient,
    schema: &str,
    backfill: &[Cursor],
) -> Result<(), postgres::Error> {
    client.execute(
        &format!("UPDATE {} SET backfill = $1", table(schema)),
        &[&backfill_text(backfill)],
    )?;
    Ok(())
}
