//! The first step's statements: hidden columns for every new value, and
//! the `sql` ops, in file order. All of it commits in one short
//! transaction; none of it changes what the old release sees.

use super::names::hidden_column;
use super::spec::{Change, Op};
use super::sqltext::{qualified, quote};

/// (what, SQL) for each statement of the columns step, in file order: a
/// later op may use a table an earlier `sql` op made.
pub(crate) fn statements(change: &Change, base: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (index, op) in change.ops.iter().enumerate() {
        match op {
            Op::AddColumn {
                table,
                column,
                sql_type,
                default,
                ..
            } => {
                add(&mut out, base, table, column, sql_type);
                if let Some(default) = default {
                    out.push((
                        format!("default of `{table}.{column}`"),
                        format!(
                            "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {default}",
                            qualified(base, table),
                            quote(&hidden_column(column))
                        ),
                    ));
                }
            }
            Op::ChangeType {
                table,
                column,
                sql_type,
                ..
            } => add(&mut out, base, table, column, sql_type),
            Op::SplitColumn { table, into, .. } => {
                for column in into {
                    add(&mut out, base, table, &column.name, &column.sql_type);
                }
            }
            Op::MergeColumns { table, into, .. } => {
                add(&mut out, base, table, &into.name, &into.sql_type)
            }
            Op::Sql { up, .. } => out.push((format!("op {} (`sql`)", index + 1), up.clone())),
            _ => {}
        }
    }
    out
}

fn add(out: &mut Vec<(String, String)>, base: &str, table: &str, column: &str, sql_type: &str) {
    let hidden = hidden_column(column);
    out.push((
        format!("add column `{table}.{hidden}`"),
        // No default here: a volatile one would rewrite the table under
        // its strongest lock. The default is set for new rows only, and
        // existing rows are backfilled.
        format!(
            "ALTER TABLE {} ADD COLUMN {} {sql_type}",
            qualified(base, table),
            quote(&hidden)
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::super::shape::tests::change;
    use super::*;

    #[test]
    fn hidden_columns_then_their_defaults_in_file_order() {
        let change = change("[[op]]\ntype = \"sql\"\nup = \"CREATE TABLE plans (id int PRIMARY KEY)\"\n[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\ndefault = \"'free'\"\n");
        let sql: Vec<String> = statements(&change, "public")
            .into_iter()
            .map(|(_, sql)| sql)
            .collect();
        assert_eq!(
            sql,
            [
                "CREATE TABLE plans (id int PRIMARY KEY)",
                "ALTER TABLE \"public\".\"users\" ADD COLUMN \"_hoist_new_plan\" text",
                "ALTER TABLE \"public\".\"users\" ALTER COLUMN \"_hoist_new_plan\" SET DEFAULT 'free'",
            ]
        );
    }
}
