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
    fn key_list(&self, prefix: &str, suffix: &str) -> String {
        self.key
            .iter()
            .map(|(column, _)| format!("{prefix}{}{suffix}", quote(column)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `(key) > ($from..)`: the key as text parameters from `$from`.
    fn compare(&self, op: &str, from: usize) -> String {
        let params: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(i, (_, sql_type))| format!("${}::text::{sql_type}", from + i))
            .collect();
        format!("({}) {op} ({})", self.key_list("", ""), params.join(", "))
    }

    /// The next batch's bounds: how many rows it has (at most `rows`)
    /// and its last key (as text). `$1..$n` are the last key done, absent
    /// for the first batch.
    pub fn bound_sql(&self, base: &str, first: bool, rows: u32) -> String {
        let after = if first {
            String::new()
        } else {
            format!(" WHERE {}", self.compare(">", 1))
        };
        let last: Vec<String> = self
            .key
            .iter()
            .map(|(column, _)| format!("{}::text", quote(column)))
            .collect();
        format!(
            "SELECT count(*) OVER (), ARRAY[{last}] FROM (SELECT {keys} FROM {table}{after} ORDER BY {keys} LIMIT {rows}) batch ORDER BY {desc} LIMIT 1",
            last = last.join(", "),
            keys = self.key_list("", ""),
            table = qualified(base, &self.table),
            desc = self.key_list("", " DESC"),
        )
    }

    /// The batch's update: a key range, so it walks the primary key's
    /// index. `$1..$n` are the last key done (absent for the first batch),
    /// then the batch's last key.
    pub fn update_sql(&self, base: &str, first: bool) -> String {
        let sets: Vec<String> = self
            .sets
            .iter()
            .map(|(column, expr)| format!("{} = ({expr})", quote(column)))
            .collect();
        let range = if first {
            self.compare("<=", 1)
        } else {
            format!(
                "{} AND {}",
                self.compare(">", 1),
                self.compare("<=", 1 + self.key.len())
            )
        };
        format!(
            "UPDATE {} SET {} WHERE {range}",
            qualified(base, &self.table),
            sets.join(", ")
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
    let mut pace = super::pace::Pace::new(settings.rows, settings.pause);
    for batch in batches {
        let at = match cursors.iter().position(|c| c.table == batch.table) {
            Some(at) => at,
            None => {
                // The planner's estimate, not `count(*)`: a count scans the
                // whole table under a lock the live site's DDL would queue
                // behind, for a figure that is only progress.
                let sql = format!(
                    "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = '{}'::regclass",
                    qualified(settings.base, &batch.table).replace('\'', "''")
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
            let rows = pace.rows();
            let bound = batch.bound_sql(settings.base, last.is_none(), rows);
            let update = batch.update_sql(settings.base, last.is_none());
            let started = Instant::now();
            let mut next = cursors.clone();
            ddl.tx(ExpandStep::Backfill, &what, events, |tx| {
                tx.batch_execute(&format!(
                    "SET LOCAL {} = 'on'",
                    super::triggers::BACKFILL_SETTING
                ))?;
                let mut params: Vec<&(dyn ToSql + Sync)> = match &last {
                    Some(values) => values.iter().map(|v| v as &(dyn ToSql + Sync)).collect(),
                    None => Vec::new(),
                };
                next = cursors.clone();
                let cursor = &mut next[at];
                let Some(row) = tx.query_opt(&bound, &params)? else {
                    cursor.finished = true;
                    return state::set_backfill(tx, settings.base, &next);
                };
                let count: i64 = row.get(0);
                let key: Vec<String> = row.get(1);
                params.extend(key.iter().map(|v| v as &(dyn ToSql + Sync)));
                cursor.done += tx.execute(&update, &params)?;
                // Fewer than a batch: the rest (rows written since) the
                // trigger fills.
                cursor.finished = count < i64::from(rows);
                cursor.last = Some(key.clone());
                state::set_backfill(tx, settings.base, &next)
            })?;
            let took = started.elapsed();
            longest = longest.max(took);
            let rest = pace.after(took);
            *cursors = next;
            let cursor = &cursors[at];
            events(ExpandEvent::Backfilled {
                table: &batch.table,
                done: cursor.done,
                total: cursor.total.max(cursor.done),
            });
            if !cursors[at].finished {
                // Not synchronisation: room for the live release's writes.
                std::thread::sleep(rest);
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
    fn a_batch_is_a_key_range() {
        let batch = Batch {
            table: "users".into(),
            key: vec![("id".into(), "integer".into())],
            sets: vec![("_hoist_new_plan".into(), "'free'".into())],
        };
        assert_eq!(
            batch.bound_sql("public", false, 500),
            "SELECT count(*) OVER (), ARRAY[\"id\"::text] FROM (SELECT \"id\" FROM \"public\".\"users\" WHERE (\"id\") > ($1::text::integer) ORDER BY \"id\" LIMIT 500) batch ORDER BY \"id\" DESC LIMIT 1"
        );
        assert_eq!(
            batch.update_sql("public", false),
            "UPDATE \"public\".\"users\" SET \"_hoist_new_plan\" = ('free') WHERE (\"id\") > ($1::text::integer) AND (\"id\") <= ($2::text::integer)"
        );
        assert!(!batch.bound_sql("public", true, 500).contains("$1"));
    }
}
