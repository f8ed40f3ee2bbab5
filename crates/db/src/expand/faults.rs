//! Rows the sync trigger could not compute: a write must not fail
//! because an expression that held for every existing row (begin checks
//! them all) fails on a row written later (`100 / (length(name) - 1)` on
//! a one-letter name). The trigger catches the error, keeps the write,
//! and records the row here (table `hoist_expansion_fault`) through a
//! `SECURITY DEFINER` function, so an app role that may not write to
//! hoist's tables can still record it.
//!
//! Each record keeps the value the column held when the write went on.
//! Contract takes each old-side record in turn: a row gone, or whose
//! column changed since (a later write computed it, or the new release
//! wrote it), needs nothing; otherwise it computes the row again
//! (`hoist.repair`, which makes the trigger recompute from the old side
//! and raise instead of recording). It is refused, naming the rows, while
//! one still fails: contract would otherwise make a value nobody computed
//! the only one. Like the state table, both exist only while an
//! expansion is open.

use super::names::shown;
use super::sqltext::{literal, qualified, quote};
use postgres::GenericClient;

/// The table of rows the trigger could not compute.
pub(crate) const FAULT_TABLE: &str = "hoist_expansion_fault";

/// The function the trigger records a fault through.
pub(crate) const RECORD_FUNCTION: &str = "hoist_expansion_fault_record";

/// Set (`SET LOCAL`) to `old` or `new` while contract recomputes a row:
/// the trigger takes that side, recomputes every value of it, and raises
/// instead of recording.
pub(crate) const REPAIR_SETTING: &str = "hoist.repair";

/// The most rows a refusal or `hoist db status` names.
pub(crate) const NAMED: usize = 5;

/// The side whose write the trigger could not compute a value for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// An old-side write: a hidden column's value (`up`, `backfill`),
    /// which contract keeps.
    Old,
    /// A new-side write: an old column's value (`down`), which contract
    /// drops.
    New,
}

impl Side {
    /// As recorded and as `hoist.repair` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

/// One row the trigger could not compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    /// The table.
    pub table: String,
    /// The row's primary key, as JSON (`{"id": 5}`).
    pub key: String,
    /// The column it could not fill.
    pub target: String,
    /// The side that wrote the row: `old` or `new` (a record another
    /// role forged may say anything: only `old` is acted on).
    pub side: String,
    /// PostgreSQL's message.
    pub error: String,
    /// What the column held when the write went on, as text.
    pub value: Option<String>,
}

impl Fault {
    /// `` `users` row {"id": 5}: the new `score` (ERROR: division by zero) ``:
    /// the new shape's name for a hidden column, what the release that
    /// reads it calls it.
    pub fn describe(&self) -> String {
        let column = match shown(&self.target) {
            Some(name) => format!("the new `{name}`"),
            None => format!("the old `{}`", self.target),
        };
        let key: String = self.key.chars().take(120).collect();
        format!("`{}` row {key}: {column} ({})", self.table, self.error)
    }
}

/// Creates the table and the function (idempotent: every step that
/// installs a trigger runs it, so an expansion an older hoist opened gets
/// them too). EXECUTE is granted to everyone in so many words: a site
/// that revokes it from new functions by default (`ALTER DEFAULT
/// PRIVILEGES ... REVOKE EXECUTE`) must not have its writes fail on it.
pub(crate) fn create_sql(base: &str) -> String {
    let table = qualified(base, FAULT_TABLE);
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            table_name TEXT NOT NULL, key JSONB NOT NULL, target TEXT NOT NULL,
            side TEXT NOT NULL, error TEXT NOT NULL, value TEXT, at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (table_name, key, target));
        {ours}
        CREATE OR REPLACE FUNCTION {function}(p_table TEXT, p_key JSONB, p_target TEXT, p_side TEXT, p_error TEXT, p_value TEXT)
        RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $hoist_fault$
          INSERT INTO {table} AS f (table_name, key, target, side, error, value)
            SELECT p_table, p_key, p_target, p_side, p_error, p_value WHERE p_side IN ('old', 'new')
          ON CONFLICT (table_name, key, target) DO UPDATE
            SET side = CASE WHEN f.side = 'old' THEN 'old' ELSE EXCLUDED.side END,
                error = EXCLUDED.error, value = EXCLUDED.value, at = now()
        $hoist_fault$;
        GRANT EXECUTE ON FUNCTION {function}(TEXT, JSONB, TEXT, TEXT, TEXT, TEXT) TO PUBLIC",
        function = qualified(base, RECORD_FUNCTION),
        ours = ours_sql(&table),
    )
}

/// Refuses a table of that name hoist did not make: the definer's insert
/// would fire its owner's triggers or rules as the migrator.
fn ours_sql(table: &str) -> String {
    format!(
        "DO $hoist_fault_owner$ BEGIN
          IF EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = to_regclass({name})
              AND (c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
                   OR c.relhastriggers OR c.relhasrules)) THEN
            RAISE EXCEPTION 'table % exists and hoist did not make it (another owner, or triggers or rules): rename or drop it, then run the same command again', {name};
          END IF;
        END $hoist_fault_owner$;",
        name = literal(table)
    )
}

/// Drops both (contract and abort).
pub(crate) fn drop_sql(base: &str) -> String {
    format!(
        "DROP FUNCTION IF EXISTS {}(TEXT, JSONB, TEXT, TEXT, TEXT, TEXT); DROP TABLE IF EXISTS {}",
        qualified(base, RECORD_FUNCTION),
        qualified(base, FAULT_TABLE)
    )
}

/// The trigger's call: records that `target` of the row `NEW` could not
/// be computed, with the error in scope (`SQLERRM`) and the value the
/// column keeps. `key` is the table's primary key.
pub(crate) fn record_call(
    base: &str,
    table: &str,
    key: &[(String, String)],
    target: &str,
    side: Side,
) -> String {
    let pairs: Vec<String> = key
        .iter()
        .map(|(column, _)| format!("{}, NEW.{}", literal(column), quote(column)))
        .collect();
    // Recording must not fail the write either (a role that may not run
    // the function after all): the row then goes unrecorded, with a
    // warning in the database's log, and contract's NULL check still
    // finds a value that becomes NOT NULL.
    format!(
        "BEGIN PERFORM {}({}, jsonb_build_object({}), {}, {}, SQLERRM, NEW.{}::text); EXCEPTION WHEN OTHERS THEN RAISE WARNING 'hoist could not record a row it could not compute: %', SQLERRM; END;",
        qualified(base, RECORD_FUNCTION),
        literal(table),
        pairs.join(", "),
        literal(target),
        literal(side.as_str()),
        quote(target),
    )
}

/// How many rows are recorded, and the first [`NAMED`] of them.
pub(crate) fn read(
    client: &mut impl GenericClient,
    base: &str,
) -> Result<(u64, Vec<Fault>), postgres::Error> {
    let Some(count) = count(client, base)? else {
        return Ok((0, Vec::new()));
    };
    Ok((count, select(client, base, &format!(" LIMIT {NAMED}"))?))
}

/// Every recorded row (contract computes them all again).
pub(crate) fn all(
    client: &mut impl GenericClient,
    base: &str,
) -> Result<Vec<Fault>, postgres::Error> {
    match count(client, base)? {
        Some(_) => select(client, base, ""),
        None => Ok(Vec::new()),
    }
}

/// How many rows are recorded; `None` when there is no table (an
/// expansion an older hoist opened).
fn count(client: &mut impl GenericClient, base: &str) -> Result<Option<u64>, postgres::Error> {
    let table = qualified(base, FAULT_TABLE);
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let count: i64 = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
        .get(0);
    Ok(Some(count as u64))
}

fn select(
    client: &mut impl GenericClient,
    base: &str,
    limit: &str,
) -> Result<Vec<Fault>, postgres::Error> {
    let rows = client.query(
        &format!("SELECT table_name, key::text, target, side, error, value FROM {} ORDER BY at, table_name, key::text, target{limit}", qualified(base, FAULT_TABLE)),
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|row| Fault {
            table: row.get(0),
            key: row.get(1),
            target: row.get(2),
            side: row.get(3),
            error: row.get(4),
            value: row.get(5),
        })
        .collect())
}

/// `WHERE` for `fault`'s row, `$1` being its key as JSON.
fn row_sql(key: &[(String, String)]) -> String {
    key.iter()
        .map(|(column, sql_type)| {
            format!(
                "{} = ($1::text::jsonb ->> {})::{sql_type}",
                quote(column),
                literal(column)
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// What the column of `fault`'s row holds now, as text (`$1`: the key):
/// no row when it is gone. An error means the key is not this table's (a
/// forged record).
pub(crate) fn now_sql(base: &str, fault: &Fault, key: &[(String, String)]) -> String {
    format!(
        "SELECT {}::text FROM {} WHERE {}",
        quote(&fault.target),
        qualified(base, &fault.table),
        row_sql(key)
    )
}

/// The statements that compute `fault`'s row again, in one transaction
/// (`$1`: the key as JSON): an update that changes nothing itself, under
/// [`REPAIR_SETTING`], so the trigger recomputes from the old side.
/// It sets the column it could not fill to itself: never a key, which
/// may be `GENERATED ALWAYS` and refuse it.
pub(crate) fn repair_sql(base: &str, fault: &Fault, key: &[(String, String)]) -> [String; 2] {
    let target = quote(&fault.target);
    [
        format!("SET LOCAL {REPAIR_SETTING} = '{}'", Side::Old.as_str()),
        format!(
            "UPDATE {} SET {target} = {target} WHERE {}",
            qualified(base, &fault.table),
            row_sql(key)
        ),
    ]
}

/// Forgets `fault` (`$1`: its key).
pub(crate) fn forget_sql(base: &str, fault: &Fault) -> String {
    format!(
        "DELETE FROM {} WHERE table_name = {} AND key = $1::text::jsonb AND target = {}",
        qualified(base, FAULT_TABLE),
        literal(&fault.table),
        literal(&fault.target)
    )
}

/// Fails the contract's transaction when an old-side record came after
/// `settle.rs` looked (a write between the two). The table exists:
/// `settle.rs` made sure.
pub(crate) fn none_left_sql(base: &str) -> String {
    format!(
        "DO $hoist_fault_left$ BEGIN
          IF EXISTS (SELECT 1 FROM {} WHERE side = 'old') THEN
            RAISE EXCEPTION 'a row was recorded as not computed while contract ran: run the same command again';
          END IF;
        END $hoist_fault_left$",
        qualified(base, FAULT_TABLE),
    )
}
