//! The backfill: existing rows get their new values in batches walked by
//! primary key. Each batch is one short transaction that also records how
//! far it got, so a backfill stopped anywhere resumes at the next batch;
//! a pause between batches lets the live release's writes go first.

use super::ddl::Ddl;
use super::shape::TableShape;
use super::sqltext::{qualified, quote};
use super::state::{self, Cursor};
use super::types::{ExpandEvent, ExpandStep};
use postgres::types::ToSql;
use std::time::{Duration, Instant};

/// One table's batch: its key and the hidden columns it fills.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    /// The table.
    pub table: String,
    /// The primary key: (column, type).
    pub key: Vec<(String, String)>,
    /// (hidden column, expression over the old row).
    pub sets: Vec<(String, String)>,
}

impl Batch {
    /// The batch statement. `$1..$n` are the last key done (as text),
    /// absent for the first batch. It returns the rows updated and the
    /// last key of the batch (as text).
    pub fn sql(&self, base: &str, first: bool, rows: u32) -> String {
        let table = qualified(base, &self.table);
        // The batch's own names for the key, so an expression naming a
        // key column is not ambiguous.
        let alias = |i: usize| format!("\"_hoist_k{i}\"");
        let select: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(i, (column, _))| format!("{} AS {}", quote(column), alias(i)))
            .collect();
        let key_list = |prefix: &str| {
            self.key
                .iter()
                .map(|(column, _)| format!("{prefix}{}", quote(column)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let after = if first {
            String::new()
        } else {
            let params: Vec<String> = self
                .key
                .iter()
                .enumerate()
                .map(|(i, (_, sql_type))| format!("${}::text::{sql_type}", i + 1))
                .collect();
            format!(" WHERE ({}) > ({})", key_list(""), params.join(", "))
        };
        let sets: Vec<String> = self
            .sets
            .iter()
            .map(|(column, expr)| format!("{} = ({expr})", quote(column)))
            .collect();
        let join: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(i, (column, _))| format!("{table}.{} = batch.{}", quote(column), alias(i)))
            .collect();
        let last: Vec<String> = (0..self.key.len())
            .map(|i| format!("batch.{}::text", alias(i)))
            .collect();
        let order_desc: Vec<String> = (0..self.key.len())
            .map(|i| format!("batch.{} DESC", alias(i)))
            .collect();
        format!(
            "WITH batch AS (SELECT {select} FROM {table}{after} ORDER BY {order} LIMIT {rows}), \
             done AS (UPDATE {table} SET {sets} FROM batch WHERE {join} RETURNING 1) \
             SELECT (SELECT count(*) FROM done), (SELECT ARRAY[{last}] FROM batch ORDER BY {order_desc} LIMIT 1)",
            select = select.join(", "),
            order = key_list(""),
            sets = sets.join(", "),
            join = join.join(" AND "),
            last = last.join(", "),
            order_desc = order_desc.join(", "),
        )
    }
}

/// What the backfill needs of its caller.
pub(crate) struct Settings<'a> {
    /// The base schema.
    pub base: &'a str,
    /// Rows per batch.
    pub rows: u32,
    /// Between batches.
    pub pause: Duration,
}

/// Runs every batch not done yet; `cursors` (the state's) advance with
/// each commit. Returns the longest batch transaction.
pub(crate) fn run(
    ddl: &mut Ddl<'_>,
    batches: &[Batch],
    cursors: &mut Vec<Cursor>,
    settings: &Settings<'_>,
    events: &mut dyn FnMut(ExpandEvent<'_>),
) -> Result<Duration, crate::DbError> {
    let mut longest = Duration::ZERO;
    for batch in batches {
        let at = match cursors.iter().position(|c| c.table == batch.table) {
            Some(at) => at,
            None => {
                let sql = format!(
                    "SELECT count(*) FROM {}",
                    qualified(settings.base, &batch.table)
                );
                let total: i64 = ddl
                    .client
                    .query_one(&sql, &[])
                    .map_err(|e| ddl.failed(ExpandStep::Backfill, "count rows", &e))?
                    .get(0);
                cursors.push(Cursor {
                    table: batch.table.clone(),
                    done: 0,
                    total: total as u64,
                    finished: false,
                    last: None,
                });
                cursors.len() - 1
            }
        };
        let what = format!("backfill `{}`", batch.table);
        while !cursors[at].finished {
            let last = cursors[at].last.clone();
            let sql = batch.sql(settings.base, last.is_none(), settings.rows);
            let started = Instant::now();
            let mut next = cursors.clone();
            ddl.tx(ExpandStep::Backfill, &what, events, |tx| {
                let params: Vec<&(dyn ToSql + Sync)> = match &last {
                    Some(values) => values.iter().map(|v| v as &(dyn ToSql + Sync)).collect(),
                    None => Vec::new(),
                };
                let row = tx.query_one(&sql, &params)?;
                let updated: i64 = row.get(0);
                let key: Option<Vec<String>> = row.get(1);
                next = cursors.clone();
                let cursor = &mut next[at];
                cursor.done += updated as u64;
                cursor.finished = (updated as u64) < u64::from(settings.rows) || key.is_none();
                if key.is_some() {
                    cursor.last = key;
                }
                state::set_backfill(tx, settings.base, &next)?;
                Ok(())
            })?;
            longest = longest.max(started.elapsed());
            *cursors = next;
            let cursor = &cursors[at];
            events(ExpandEvent::Backfilled {
                table: &batch.table,
                done: cursor.done,
                total: cursor.total.max(cursor.done),
            });
            if !cursors[at].finished {
                // Not synchronisation: room for the live release's writes.
                std::thread::sleep(settings.pause);
            }
        }
    }
    Ok(longest)
}

/// The batches of `shapes` (tables with something to fill).
pub(crate) fn batches(shapes: &[TableShape]) -> impl Iterator<Item = &TableShape> {
    shapes
        .iter()
        .filter(|shape| !shape.dropped && !shape.backfill.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_walks_the_key_and_returns_the_last() {
        let batch = Batch {
            table: "users".into(),
            key: vec![("id".into(), "integer".into())],
            sets: vec![("_hoist_new_plan".into(), "'free'".into())],
        };
        let sql = batch.sql("public", false, 500);
        assert!(sql.contains("FROM \"public\".\"users\" WHERE (\"id\") > ($1::text::integer) ORDER BY \"id\" LIMIT 500"), "{sql}");
        assert!(sql.contains("SET \"_hoist_new_plan\" = ('free') FROM batch WHERE \"public\".\"users\".\"id\" = batch.\"_hoist_k0\""), "{sql}");
        assert!(!batch.sql("public", true, 500).contains("$1"));
    }
}
