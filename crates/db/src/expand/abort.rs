//! Abort: what undoes an expansion, by name from its ops alone, so it
//! works whichever step the expansion reached (every drop says `IF
//! EXISTS`). Afterwards the schema is as it was before the expansion.

use super::constraints::all_constraints;
use super::names::hidden_column;
use super::shape::{shaped_tables, TableShape};
use super::spec::{Change, Op};
use super::sqltext::{qualified, quote};
use super::triggers;

/// The first `sql` op (1-based) with no `down`: its change cannot be undone.
pub(crate) fn missing_down(change: &Change) -> Option<usize> {
    change
        .ops
        .iter()
        .position(|op| matches!(op, Op::Sql { down: None, .. }))
        .map(|at| at + 1)
}

/// `DROP INDEX CONCURRENTLY` for each `create_index` (outside a transaction).
pub(crate) fn drop_indexes(change: &Change, base: &str) -> Vec<(String, String)> {
    change
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::CreateIndex { name, .. } => Some((
                format!("drop index `{name}`"),
                format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {}",
                    qualified(base, name)
                ),
            )),
            _ => None,
        })
        .collect()
}

/// The undo statements, run in one transaction after the view schemas
/// are gone: triggers, constraints, hidden columns, then the `sql` downs,
/// all in reverse order of the ops.
pub(crate) fn undo(change: &Change, base: &str, existing: &[String]) -> Vec<String> {
    let mut sql = Vec::new();
    for table in shaped_tables(change) {
        if existing.contains(&table) {
            let function = TableShape {
                table: table.clone(),
                ..TableShape::default()
            }
            .function();
            sql.push(triggers::drop_sql(&table, &function, base));
        }
    }
    for (table, constraint) in all_constraints(change).into_iter().rev() {
        if existing.contains(&table) {
            sql.push(format!(
                "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                qualified(base, &table),
                quote(&constraint)
            ));
        }
    }
    for op in change.ops.iter().rev() {
        let hidden: Vec<String> = match op {
            Op::AddColumn { column, .. } | Op::ChangeType { column, .. } => {
                vec![hidden_column(column)]
            }
            Op::SplitColumn { into, .. } => into.iter().map(|c| hidden_column(&c.name)).collect(),
            Op::MergeColumns { into, .. } => vec![hidden_column(&into.name)],
            Op::Sql {
                down: Some(down), ..
            } => {
                sql.push(down.clone());
                Vec::new()
            }
            _ => Vec::new(),
        };
        let table = op.table().unwrap_or_default();
        if existing.iter().any(|t| t == table) {
            for column in hidden {
                sql.push(format!(
                    "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
                    qualified(base, table),
                    quote(&column)
                ));
            }
        }
    }
    sql
}

/// What [`undo`] and [`drop_indexes`] remove, for the report (`users._hoist_new_tier`,
/// `users._hoist_sync` (trigger), `users.users_tier_not_null` (check)...):
/// an abort said `dropped: []` though it dropped all of these.
pub(crate) fn dropped(change: &Change, existing: &[String]) -> Vec<String> {
    let exists = |table: &str| existing.iter().any(|t| t == table);
    let mut out = Vec::new();
    for table in shaped_tables(change) {
        let synced = TableShape {
            table: table.clone(),
            ..TableShape::default()
        };
        // Only a table whose writes compute a value has a trigger.
        let computed = change.ops.iter().any(|op| {
            op.table() == Some(table.as_str())
                && matches!(
                    op,
                    Op::AddColumn {
                        backfill: Some(_),
                        ..
                    } | Op::ChangeType { .. }
                        | Op::SplitColumn { .. }
                        | Op::MergeColumns { .. }
                        | Op::DropColumn { down: Some(_), .. }
                )
        });
        if exists(&table) && computed {
            out.push(format!("{table}.{} (trigger)", triggers::TRIGGER));
            out.push(format!("{}() (function)", synced.function()));
        }
    }
    for op in &change.ops {
        match op {
            // (No NOT NULL check: contract makes it, and an abort never
            // follows a contract that began.)
            Op::AddColumn { table, column, .. } if exists(table) => {
                out.push(format!("{table}.{}", hidden_column(column)));
            }
            Op::ChangeType { table, column, .. } if exists(table) => {
                out.push(format!("{table}.{}", hidden_column(column)));
            }
            Op::SplitColumn { table, into, .. } if exists(table) => {
                out.extend(
                    into.iter()
                        .map(|c| format!("{table}.{}", hidden_column(&c.name))),
                );
            }
            Op::MergeColumns { table, into, .. } if exists(table) => {
                out.push(format!("{table}.{}", hidden_column(&into.name)));
            }
            Op::AddConstraint { table, name, .. } if exists(table) => {
                out.push(format!("{table}.{name} (constraint)"));
            }
            Op::CreateIndex { name, .. } => out.push(format!("{name} (index)")),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::shape::tests::change;
    use super::*;

    #[test]
    fn undo_runs_sql_downs_last_op_first() {
        let change = change("[[op]]\ntype = \"sql\"\nup = \"CREATE TABLE plans (id int)\"\ndown = \"DROP TABLE plans\"\n[[op]]\ntype = \"add_column\"\ntable = \"plans\"\ncolumn = \"name\"\nsql_type = \"text\"\n");
        let sql = undo(&change, "public", &["plans".into()]);
        assert_eq!(sql.last().unwrap(), "DROP TABLE plans");
        assert!(sql[sql.len() - 2].contains("DROP COLUMN IF EXISTS \"_hoist_new_name\""));
        assert_eq!(missing_down(&change), None);
    }

    #[test]
    fn abort_of_a_not_null_column_reported_nothing_dropped() {
        // `rollback --with-db --json` said `"dropped": []` after dropping
        // the hidden column and the trigger.
        let change = change("[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"tier\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"'free'\"\n");
        let dropped = dropped(&change, &["users".into()]);
        assert!(
            dropped.contains(&"users._hoist_new_tier".to_owned())
                && dropped.iter().any(|d| d.ends_with("(trigger)"))
                && !dropped.iter().any(|d| d.ends_with("(check)")),
            "{dropped:?}"
        );
        // A rename computes nothing: no trigger to report.
        let rename = super::super::shape::tests::change("[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n");
        assert!(super::dropped(&rename, &["users".into()]).is_empty());
    }
}
