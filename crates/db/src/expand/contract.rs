//! Contract: the statements that make the new shape the only one. They
//! run in one short transaction, after the view schemas and triggers go,
//! so the new release's sessions fall through `search_path` to base
//! tables that now have its shape.

use super::names::hidden_column;
use super::shape::{not_null_check, TableShape};
use super::spec::{Change, Op};
use super::sqltext::{qualified, quote};

/// What contract changes, for the report and the SQL.
#[derive(Debug, Default)]
pub(crate) struct Contract {
    /// The statements, in order.
    pub sql: Vec<String>,
    /// `users.name`, `plans` (a table).
    pub dropped: Vec<String>,
    /// `users._hoist_new_amount → amount`.
    pub renamed: Vec<String>,
}

/// The contract of `change` (whose tables have `shapes`).
pub(crate) fn contract(change: &Change, shapes: &[TableShape], base: &str) -> Contract {
    let mut out = Contract::default();
    for op in &change.ops {
        let Some(table) = op.table() else { continue };
        let target = qualified(base, table);
        let shape = shapes.iter().find(|s| s.table == table);
        let drop = |out: &mut Contract, column: &str| {
            out.sql.push(format!(
                "ALTER TABLE {target} DROP COLUMN IF EXISTS {}",
                quote(column)
            ));
            out.dropped.push(format!("{table}.{column}"));
        };
        let place = |out: &mut Contract, column: &str| {
            let hidden = hidden_column(column);
            out.sql.push(format!(
                "ALTER TABLE {target} RENAME COLUMN {} TO {}",
                quote(&hidden),
                quote(column)
            ));
            out.renamed.push(format!("{table}.{hidden} → {column}"));
            let check = not_null_check(column);
            if shape.is_some_and(|s| s.not_null.iter().any(|n| n.check == check)) {
                // The validated check proves no NULL, so no scan here.
                out.sql.push(format!(
                    "ALTER TABLE {target} ALTER COLUMN {} SET NOT NULL",
                    quote(column)
                ));
                out.sql.push(format!(
                    "ALTER TABLE {target} DROP CONSTRAINT IF EXISTS {}",
                    quote(&check)
                ));
            }
        };
        match op {
            Op::AddColumn { column, .. } => place(&mut out, column),
            Op::RenameColumn { from, to, .. } => {
                out.sql.push(format!(
                    "ALTER TABLE {target} RENAME COLUMN {} TO {}",
                    quote(from),
                    quote(to)
                ));
                out.renamed.push(format!("{table}.{from} → {to}"));
            }
            Op::ChangeType { column, .. } => {
                drop(&mut out, column);
                place(&mut out, column);
            }
            Op::SplitColumn { column, into, .. } => {
                drop(&mut out, column);
                for part in into {
                    place(&mut out, &part.name);
                }
            }
            Op::MergeColumns { columns, into, .. } => {
                for column in columns {
                    drop(&mut out, column);
                }
                place(&mut out, &into.name);
            }
            Op::DropColumn { column, .. } => drop(&mut out, column),
            Op::DropTable { .. } => {
                out.sql.push(format!("DROP TABLE IF EXISTS {target}"));
                out.dropped.push(table.to_owned());
            }
            Op::AddConstraint { .. } | Op::CreateIndex { .. } | Op::Sql { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::shape::{build, tests::change, tests::users};
    use super::*;

    #[test]
    fn change_type_drops_then_renames_and_sets_not_null() {
        let change = change("[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"name\"\nsql_type = \"varchar(200)\"\nup = \"name\"\ndown = \"name\"\n");
        let shapes = build(&change, &users()).unwrap();
        let contract = contract(&change, &shapes, "public");
        assert_eq!(
            contract.sql,
            [
                "ALTER TABLE \"public\".\"users\" DROP COLUMN IF EXISTS \"name\"",
                "ALTER TABLE \"public\".\"users\" RENAME COLUMN \"_hoist_new_name\" TO \"name\"",
                "ALTER TABLE \"public\".\"users\" ALTER COLUMN \"name\" SET NOT NULL",
                "ALTER TABLE \"public\".\"users\" DROP CONSTRAINT IF EXISTS \"_hoist_nn_name\"",
            ]
        );
        assert_eq!(contract.dropped, ["users.name"]);
    }
}
