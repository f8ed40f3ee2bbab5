//! The first step's statements: hidden columns for every new value, and
//! the `sql` ops, in file order. All of it commits in one short
//! transaction; none of it changes what the old release sees.

use super::names::hidden_column;
use super::shape::Column;
use super::spec::{Change, Op};
use super::sqltext::{names, qualified, quote, substitute};
use std::collections::BTreeMap;

/// The default of a `change_type` column's new value: `up` over the old
/// default, when the old column has one and `up` reads only it (a
/// default cannot read other columns). Without it, a row the new release
/// inserts without naming the column would lose the old default.
pub(crate) fn carried_default(column: &str, up: &str, old: &[Column]) -> Option<String> {
    let default = old.iter().find(|c| c.name == column)?.default.as_ref()?;
    if names(up)
        .iter()
        .any(|name| name != column && old.iter().any(|c| &c.name == name))
    {
        return None;
    }
    let map = BTreeMap::from([(column.to_owned(), format!("({default})"))]);
    Some(substitute(up, &map))
}

/// (what, SQL) for each statement of the columns step, in file order: a
/// later op may use a table an earlier `sql` op made.
/// `columns` holds the base columns of the tables that exist.
pub(crate) fn statements(
    change: &Change,
    base: &str,
    columns: &BTreeMap<String, Vec<Column>>,
) -> Vec<(String, String)> {
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
                    set_default(&mut out, base, table, column, default);
                }
            }
            Op::ChangeType {
                table,
                column,
                sql_type,
                up,
                ..
            } => {
                add(&mut out, base, table, column, sql_type);
                let old = columns.get(table).map(Vec::as_slice).unwrap_or_default();
                if let Some(default) = carried_default(column, up, old) {
                    set_default(&mut out, base, table, column, &default);
                }
            }
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

/// The hidden column's default, for new rows only (set after the column
/// was added, so no existing row is rewritten).
fn set_default(
    out: &mut Vec<(String, String)>,
    base: &str,
    table: &str,
    column: &str,
    default: &str,
) {
    out.push((
        format!("default of `{table}.{column}`"),
        format!(
            "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {default}",
            qualified(base, table),
            quote(&hidden_column(column))
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::super::shape::tests::{change, users};
    use super::*;

    #[test]
    fn a_changed_type_keeps_its_default_through_up() {
        let old = &users()["users"];
        assert_eq!(
            carried_default("amount", "amount::numeric / 100", old).as_deref(),
            Some("(0)::numeric / 100")
        );
        assert_eq!(carried_default("amount", "amount + id", old), None);
        assert_eq!(carried_default("name", "upper(name)", old), None);
    }

    #[test]
    fn hidden_columns_then_their_defaults_in_file_order() {
        let change = change("[[op]]\ntype = \"sql\"\nup = \"CREATE TABLE plans (id int PRIMARY KEY)\"\n[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\ndefault = \"'free'\"\n");
        let sql: Vec<String> = statements(&change, "public", &BTreeMap::new())
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
