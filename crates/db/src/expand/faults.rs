//! Rows the sync trigger could not compute: a write must not fail
//! because an expression that held for every existing row (begin checks
//! them all) fails on a row written later (`100 / (length(name) - 1)` on
//! a one-letter name). The trigger catches the error, keeps the write,
//! and records the row here (table `hoist_expansion_fault`) through a
//! `SECURITY DEFINER` function, so an app role that may not write to
//! hoist's tables can still record it.
//!
//! Contract computes each recorded row again (`hoist.repair`, which makes
//! the trigger recompute from the side that wrote it and raise instead of
//! recording), and is refused, naming the rows, while one still fails:
//! contract would otherwise make a value nobody computed the only one.
//! Like the state table, both exist only while an expansion is open.

use super::names::HIDDEN_PREFIX;
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

/// One row the trigger could not compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    /// The table.
    pub table: String,
    /// The row's primary key, as JSON (`{"id": 5}`).
    pub key: String,
    /// The column it could not fill.
    pub target: String,
    /// The side that wrote the row: `old` or `new`.
    pub side: String,
    /// PostgreSQL's message.
    pub error: String,
}

impl Fault {
    /// `` `users` row {"id": 5}: the new `score` (ERROR: division by zero) ``:
    /// the new shape's name for a hidden column, what the release that
    /// reads it calls it.
    pub fn describe(&self) -> String {
        let column = match self.target.strip_prefix(HIDDEN_PREFIX) {
            Some(name) => format!("the new `{name}`"),
            None => format!("the old `{}`", self.target),
        };
        format!(
            "`{}` row {}: {column} ({})",
            self.table, self.key, self.error
        )
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
            side TEXT NOT NULL, error TEXT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (table_name, key, target));
        CREATE OR REPLACE FUNCTION {function}(p_table TEXT, p_key JSONB, p_target TEXT, p_side TEXT, p_error TEXT)
        RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $hoist_fault$
          INSERT INTO {table} (table_name, key, target, side, error) VALUES (p_table, p_key, p_target, p_side, p_error)
          ON CONFLICT (table_name, key, target) DO UPDATE SET side = EXCLUDED.side, error = EXCLUDED.error, at = now()
        $hoist_fault$;
        GRANT EXECUTE ON FUNCTION {function}(TEXT, JSONB, TEXT, TEXT, TEXT) TO PUBLIC",
        function = qualified(base, RECORD_FUNCTION),
    )
}

/// Drops both (contract and abort).
pub(crate) fn drop_sql(base: &str) -> String {
    format!(
        "DROP FUNCTION IF EXISTS {}(TEXT, JSONB, TEXT, TEXT, TEXT); DROP TABLE IF EXISTS {}",
        qualified(base, RECORD_FUNCTION),
        qualified(base, FAULT_TABLE)
    )
}

/// The trigger's call: records that `target` of the row `NEW` could not
/// be computed, with the error in scope (`SQLERRM`). `key` is the
/// table's primary key.
pub(crate) fn record_call(
    base: &str,
    table: &str,
    key: &[(String, String)],
    target: &str,
    side: &str,
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
        "BEGIN PERFORM {}({}, jsonb_build_object({}), {}, {}, SQLERRM); EXCEPTION WHEN OTHERS THEN RAISE WARNING 'hoist could not record a row it could not compute: %', SQLERRM; END;",
        qualified(base, RECORD_FUNCTION),
        literal(table),
        pairs.join(", "),
        literal(target),
        literal(side),
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
        &format!("SELECT table_name, key::text, target, side, error FROM {} ORDER BY at, table_name, key::text, target{limit}", qualified(base, FAULT_TABLE)),
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
        })
        .collect())
}

/// The statements that compute `fault`'s row again (run in one
/// transaction; `$1` is the key as JSON): an update that changes nothing
/// itself, under [`REPAIR_SETTING`], so the trigger recomputes from the
/// side that wrote it, then the record goes. A row deleted since matches
/// nothing, and its record goes too.
pub(crate) fn repair_sql(base: &str, fault: &Fault, key: &[(String, String)]) -> Vec<String> {
    let side = if fault.side == "new" { "new" } else { "old" };
    let matches: Vec<String> = key
        .iter()
        .map(|(column, sql_type)| {
            format!(
                "{} = ($1::text::jsonb ->> {})::{sql_type}",
                quote(column),
                literal(column)
            )
        })
        .collect();
    let first = quote(&key[0].0);
    vec![
        format!("SET LOCAL {REPAIR_SETTING} = '{side}'"),
        format!(
            "UPDATE {} SET {first} = {first} WHERE {}",
            qualified(base, &fault.table),
            matches.join(" AND ")
        ),
        format!(
            "DELETE FROM {} WHERE table_name = {} AND key = $1::text::jsonb AND target = {}",
            qualified(base, FAULT_TABLE),
            literal(&fault.table),
            literal(&fault.target)
        ),
    ]
}
