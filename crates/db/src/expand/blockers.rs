//! What would make contract fail: `DROP COLUMN` and `DROP TABLE` (no
//! `CASCADE`) refuse while a view of the app's reads what they drop, or
//! (for a table) a foreign key of another table points at it. Found at
//! contract, after the deploy, that stops the whole change; so begin
//! refuses, naming them.

use super::spec::{Change, Op};
use super::sqltext::qualified;
use postgres::GenericClient;

/// What contract drops of `table`: its columns, or `None` for the table.
fn dropped(change: &Change, table: &str) -> Option<Vec<String>> {
    let mut columns = Vec::new();
    for op in change.ops.iter().filter(|op| op.table() == Some(table)) {
        match op {
            Op::DropTable { .. } => return None,
            Op::ChangeType { column, .. }
            | Op::SplitColumn { column, .. }
            | Op::DropColumn { column, .. } => columns.push(column.clone()),
            Op::MergeColumns {
                columns: merged, ..
            } => columns.extend(merged.iter().cloned()),
            _ => {}
        }
    }
    Some(columns)
}

/// The problems contract would meet on `schema.table`, each naming what
/// is in the way and how to clear it.
pub(crate) fn find(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
    change: &Change,
) -> Result<Vec<String>, postgres::Error> {
    let dropped = dropped(change, table);
    if dropped.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    // Views (and rules) reading the table, with the columns they read
    // (none: only the table itself).
    let rows = client.query(
        "SELECT DISTINCT v.oid::regclass::text, coalesce(a.attname::text, '') \
         FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass \
         JOIN pg_class v ON v.oid = r.ev_class \
         LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass($1) AND v.oid <> d.refobjid \
         ORDER BY 1, 2",
        &[&qualified(schema, table)],
    )?;
    let mut problems = Vec::new();
    for row in &rows {
        let (view, column): (String, String) = (row.get(0), row.get(1));
        let what = match &dropped {
            None => format!("table `{table}`"),
            Some(columns) if columns.contains(&column) => format!("column `{table}.{column}`"),
            Some(_) => continue,
        };
        let problem = format!("view `{view}` reads {what}, which contract drops, so contract would fail: drop or change the view in an earlier migration");
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    if dropped.is_none() {
        let rows = client.query(
            "SELECT k.conname::text, k.conrelid::regclass::text FROM pg_constraint k \
             WHERE k.contype = 'f' AND k.confrelid = to_regclass($1) AND k.conrelid <> k.confrelid ORDER BY 1",
            &[&qualified(schema, table)],
        )?;
        for row in &rows {
            let (key, from): (String, String) = (row.get(0), row.get(1));
            problems.push(format!("foreign key `{key}` of `{from}` points at table `{table}`, which contract drops, so contract would fail: drop the foreign key in an earlier migration"));
        }
    }
    Ok(problems)
}
