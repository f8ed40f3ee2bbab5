//! Constraints and indexes without long locks: a constraint is added
//! `NOT VALID` (checked for new writes only, a short lock) and validated
//! later (a scan that lets writes go on); an index is built
//! `CONCURRENTLY`. Expressions use the new release's names, rewritten
//! to the physical columns.

use super::shape::{not_null_check, physical_names, TableShape};
use super::spec::{Change, Op};
use super::sqltext::{literal, qualified, quote, rewrite};

/// One statement and what it does, for messages.
pub(crate) type Statement = (String, String);

/// The `add_constraint` ops, added `NOT VALID` once the triggers fill
/// the hidden columns. (The NOT NULL of a hidden column is not among
/// them: see [`not_null`].)
pub(crate) fn not_valid(change: &Change, base: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    for op in &change.ops {
        let Op::AddConstraint {
            table,
            name,
            check,
            foreign_key,
        } = op
        else {
            continue;
        };
        let names = physical_names(change, table);
        let body = match (check, foreign_key) {
            (Some(check), _) => format!("CHECK ({})", rewrite(check, &names)),
            (None, Some(key)) => {
                let theirs = physical_names(change, &key.references);
                let list =
                    |columns: &[String], map: &std::collections::BTreeMap<String, String>| {
                        columns
                            .iter()
                            .map(|c| quote(map.get(c).unwrap_or(c)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                let referenced = if key.references_columns.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", list(&key.references_columns, &theirs))
                };
                let on_delete = key
                    .on_delete
                    .as_ref()
                    .map(|action| format!(" ON DELETE {}", action.to_ascii_uppercase()))
                    .unwrap_or_default();
                format!(
                    "FOREIGN KEY ({}) REFERENCES {}{referenced}{on_delete}",
                    list(&key.columns, &names),
                    qualified(base, &key.references)
                )
            }
            (None, None) => continue,
        };
        out.push((
            format!("add constraint `{name}` on `{table}`"),
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {body} NOT VALID",
                qualified(base, table),
                quote(name)
            ),
        ));
    }
    out
}

/// The `VALIDATE CONSTRAINT`s of the `add_constraint` ops, after the backfill.
pub(crate) fn validate(change: &Change, base: &str) -> Vec<Statement> {
    change
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::AddConstraint { table, name, .. } => Some((table, name)),
            _ => None,
        })
        .map(|(table, name)| {
            (
                format!("validate constraint `{name}` on `{table}`"),
                format!(
                    "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                    qualified(base, table),
                    quote(name)
                ),
            )
        })
        .collect()
}

/// The checks that let contract's `SET NOT NULL` skip its scan, each
/// (what, add `NOT VALID` unless there, `VALIDATE`). Made at contract,
/// when nothing on the old side writes any more: during the expansion
/// the trigger keeps NOT NULL for the new side, and a CHECK would fail an
/// old-side write whose value the trigger could not compute
/// (`faults.rs`).
pub(crate) fn not_null(shapes: &[TableShape], base: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for shape in shapes {
        let table = qualified(base, &shape.table);
        for not_null in &shape.not_null {
            out.push((
                format!("check `{}.{}` is not null", shape.table, not_null.column),
                format!(
                    "DO $hoist_nn$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {}::regclass AND conname = {}) THEN ALTER TABLE {table} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID; END IF; END $hoist_nn$",
                    literal(&table),
                    literal(&not_null.check),
                    quote(&not_null.check),
                    quote(&not_null.column)
                ),
                format!(
                    "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
                    quote(&not_null.check)
                ),
            ));
        }
    }
    out
}

/// The `create_index` ops: (index name, `CREATE INDEX CONCURRENTLY ...`).
pub(crate) fn indexes(change: &Change, base: &str) -> Vec<Statement> {
    change
        .ops
        .iter()
        .filter_map(|op| {
            let Op::CreateIndex {
                table,
                name,
                columns,
                unique,
                method,
                predicate,
            } = op
            else {
                return None;
            };
            let names = physical_names(change, table);
            let columns: Vec<String> = columns.iter().map(|c| rewrite(c, &names)).collect();
            let sql = format!(
                "CREATE {}INDEX CONCURRENTLY {} ON {} USING {} ({}){}",
                if *unique { "UNIQUE " } else { "" },
                quote(name),
                qualified(base, table),
                quote(method.as_deref().unwrap_or("btree")),
                columns.join(", "),
                predicate
                    .as_ref()
                    .map(|p| format!(" WHERE {}", rewrite(p, &names)))
                    .unwrap_or_default()
            );
            Some((name.clone(), sql))
        })
        .collect()
}

/// Everything abort drops, by name from the ops alone (so it works
/// whichever step the expansion reached): (table, constraint).
pub(crate) fn all_constraints(change: &Change) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for op in &change.ops {
        match op {
            Op::AddColumn { table, column, .. } | Op::ChangeType { table, column, .. } => {
                out.push((table.clone(), not_null_check(column)))
            }
            Op::AddConstraint { table, name, .. } => out.push((table.clone(), name.clone())),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::shape::{build, tests::change, tests::users};
    use super::*;

    #[test]
    fn constraints_and_indexes_name_physical_columns() {
        let change = change("[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"'free'\"\n[[op]]\ntype = \"add_constraint\"\ntable = \"users\"\nname = \"plan_known\"\ncheck = \"plan IN ('free', 'pro')\"\n[[op]]\ntype = \"create_index\"\ntable = \"users\"\nname = \"users_plan\"\ncolumns = [\"plan\", \"lower(email)\"]\nwhere = \"plan <> 'free'\"\n");
        let shapes = build(&change, &users()).unwrap();
        let adds = not_valid(&change, "public");
        assert_eq!(adds.len(), 1);
        assert_eq!(adds[0].1, "ALTER TABLE \"public\".\"users\" ADD CONSTRAINT \"plan_known\" CHECK (\"_hoist_new_plan\" IN ('free', 'pro')) NOT VALID");
        let checks = not_null(&shapes, "public");
        assert!(checks[0].1.contains("ADD CONSTRAINT \"_hoist_nn_plan\" CHECK (\"_hoist_new_plan\" IS NOT NULL) NOT VALID"), "{}", checks[0].1);
        assert_eq!(
            checks[0].2,
            "ALTER TABLE \"public\".\"users\" VALIDATE CONSTRAINT \"_hoist_nn_plan\""
        );
        let index = &indexes(&change, "public")[0].1;
        assert_eq!(index, "CREATE INDEX CONCURRENTLY \"users_plan\" ON \"public\".\"users\" USING \"btree\" (\"_hoist_new_plan\", lower(email)) WHERE \"_hoist_new_plan\" <> 'free'");
        assert_eq!(validate(&change, "public").len(), 1);
    }
}
