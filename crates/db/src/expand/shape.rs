//! Each changed table's two shapes: the old one (the base table's own
//! columns) and the new one (names the new release uses, each mapped to
//! the physical column holding it), and the expressions that keep the
//! hidden and the old columns in step.

use super::names::{hidden_column, internal_name};
use super::spec::{Change, Op};
use super::sqltext::names;
use std::collections::BTreeMap;

/// A column of a base table, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    /// Its name.
    pub name: String,
    /// `NOT NULL`: a column that replaces it must hold that too.
    pub not_null: bool,
    /// It has a default (or is an identity or generated column), so a
    /// row that does not name it still gets a value.
    pub has_default: bool,
    /// Its default expression, if it has one.
    pub default: Option<String>,
    /// In the primary key, or a foreign key points at it: contract cannot
    /// drop it without dropping those.
    pub key: bool,
}

/// One assignment a trigger makes on a write from one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sync {
    /// The physical column assigned.
    pub target: String,
    /// The expression, naming columns as the writing side sees them.
    pub expr: String,
    /// Physical columns whose change (on UPDATE) recomputes it.
    pub sources: Vec<String>,
    /// On UPDATE only fill it when NULL (a new column with a backfill
    /// value: what the new side wrote stays).
    pub when_null: bool,
}

/// A CHECK that stands in for NOT NULL until contract sets the real one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotNull {
    /// The hidden column.
    pub column: String,
    /// The check constraint's name.
    pub check: String,
}

/// One table an expansion changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableShape {
    /// The table.
    pub table: String,
    /// The base table's columns (hidden ones left out), in order.
    pub old: Vec<Column>,
    /// The new release's columns: (its name, the physical column), in order.
    pub new: Vec<(String, String)>,
    /// Old-side writes fill the hidden columns.
    pub up: Vec<Sync>,
    /// New-side writes fill the old columns.
    pub down: Vec<Sync>,
    /// Existing rows: (hidden column, expression over the old row).
    pub backfill: Vec<(String, String)>,
    /// Hidden columns that become NOT NULL at contract.
    pub not_null: Vec<NotNull>,
    /// The new release sees it differently, so it gets a view.
    pub view: bool,
    /// `drop_table`: the new release no longer uses it.
    pub dropped: bool,
    /// Each hidden column and the default a row gets that does not name
    /// it (an old-side insert): the trigger tells a write that set it
    /// from one that did not (`triggers.rs`).
    pub hidden: Vec<(String, Option<String>)>,
}

impl TableShape {
    /// Its trigger function's name (in the base schema).
    pub fn function(&self) -> String {
        internal_name("_hoist_sync_", &self.table)
    }

    /// Whether writes need a trigger.
    pub fn synced(&self) -> bool {
        !self.up.is_empty() || !self.down.is_empty()
    }
}

/// The check that stands for `column`'s NOT NULL.
pub(crate) fn not_null_check(column: &str) -> String {
    internal_name("_hoist_nn_", column)
}

/// The new release's name → physical column, for `table`, from the ops
/// alone (no catalog): what a constraint or index written with the new
/// names must say instead.
pub(crate) fn physical_names(change: &Change, table: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for op in change.ops.iter().filter(|op| op.table() == Some(table)) {
        match op {
            Op::AddColumn { column, .. } | Op::ChangeType { column, .. } => {
                map.insert(column.clone(), hidden_column(column));
            }
            Op::RenameColumn { from, to, .. } => {
                map.insert(to.clone(), from.clone());
            }
            Op::SplitColumn { into, .. } => {
                for column in into {
                    map.insert(column.name.clone(), hidden_column(&column.name));
                }
            }
            Op::MergeColumns { into, .. } => {
                map.insert(into.name.clone(), hidden_column(&into.name));
            }
            _ => {}
        }
    }
    map
}

/// The tables whose shape `change` changes, in the order first named.
pub(crate) fn shaped_tables(change: &Change) -> Vec<String> {
    let mut tables: Vec<String> = Vec::new();
    for op in &change.ops {
        let shaping = !matches!(
            op,
            Op::AddConstraint { .. } | Op::CreateIndex { .. } | Op::Sql { .. }
        );
        if let (true, Some(table)) = (shaping, op.table()) {
            if !tables.iter().any(|t| t == table) {
                tables.push(table.to_owned());
            }
        }
    }
    tables
}

/// The shapes of every table `change` reshapes; `columns` has each one's
/// base columns. `Err` names a missing table or column.
pub(crate) fn build(
    change: &Change,
    columns: &BTreeMap<String, Vec<Column>>,
) -> Result<Vec<TableShape>, String> {
    shaped_tables(change)
        .into_iter()
        .map(|table| {
            let old = columns
                .get(&table)
                .ok_or_else(|| format!("table `{table}` does not exist; create it in an earlier migration, or fix the op's `table`"))?;
            one(change, &table, old)
        })
        .collect()
}

fn one(change: &Change, table: &str, old: &[Column]) -> Result<TableShape, String> {
    let mut shape = TableShape {
        table: table.to_owned(),
        old: old.to_vec(),
        new: old
            .iter()
            .map(|c| (c.name.clone(), c.name.clone()))
            .collect(),
        ..TableShape::default()
    };
    let missing = |column: &str| {
        format!("table `{table}` has no column `{column}`; fix the op, or add the column in an earlier migration")
    };
    let moved = |column: &str| replaceable(old, table, column);
    let position = |new: &[(String, String)], column: &str| {
        new.iter()
            .position(|(name, _)| name == column)
            .ok_or_else(|| missing(column))
    };
    let old_names: Vec<String> = old.iter().map(|c| c.name.clone()).collect();
    let up = |target: String, expr: &str, when_null: bool| Sync {
        target,
        sources: names(expr)
            .into_iter()
            .filter(|name| old_names.contains(name))
            .collect(),
        expr: expr.to_owned(),
        when_null,
    };
    // Down expressions name the new shape; their sources are mapped once
    // the whole new shape is known.
    let mut downs: Vec<(String, String)> = Vec::new();
    for op in change.ops.iter().filter(|op| op.table() == Some(table)) {
        match op {
            Op::AddColumn {
                column,
                default,
                not_null,
                backfill,
                ..
            } => {
                if position(&shape.new, column).is_ok() {
                    return Err(format!(
                        "table `{table}` has a column `{column}` already; give the op another name"
                    ));
                }
                let hidden = hidden_column(column);
                shape.new.push((column.clone(), hidden.clone()));
                shape.hidden.push((hidden.clone(), default.clone()));
                if let Some(backfill) = backfill {
                    shape.up.push(up(hidden.clone(), backfill, true));
                }
                // The default is set for new rows only (a volatile one
                // would rewrite the table); existing rows are backfilled.
                if let Some(value) = backfill.as_ref().or(default.as_ref()) {
                    shape.backfill.push((hidden.clone(), value.clone()));
                }
                if *not_null {
                    shape.not_null.push(NotNull {
                        check: not_null_check(column),
                        column: hidden,
                    });
                }
            }
            Op::RenameColumn { from, to, .. } => {
                if position(&shape.new, to).is_ok() {
                    return Err(format!(
                        "table `{table}` has a column `{to}` already; give the op another name"
                    ));
                }
                let at = position(&shape.new, from)?;
                shape.new[at].0 = to.clone();
            }
            Op::ChangeType {
                column,
                up: u,
                down,
                ..
            } => {
                moved(column)?;
                let at = position(&shape.new, column)?;
                let hidden = hidden_column(column);
                shape.new[at].1 = hidden.clone();
                let default = super::columns::carried_default(column, u, old);
                shape.hidden.push((hidden.clone(), default));
                shape.up.push(up(hidden.clone(), u, false));
                shape.backfill.push((hidden.clone(), u.clone()));
                downs.push((column.clone(), down.clone()));
                if old.iter().any(|c| &c.name == column && c.not_null) {
                    shape.not_null.push(NotNull {
                        check: not_null_check(column),
                        column: hidden,
                    });
                }
            }
            Op::SplitColumn {
                column, into, down, ..
            } => {
                moved(column)?;
                let at = position(&shape.new, column)?;
                let parts: Vec<(String, String)> = into
                    .iter()
                    .map(|c| (c.name.clone(), hidden_column(&c.name)))
                    .collect();
                for (part, (_, hidden)) in into.iter().zip(&parts) {
                    shape.hidden.push((hidden.clone(), None));
                    shape.up.push(up(hidden.clone(), &part.up, false));
                    shape.backfill.push((hidden.clone(), part.up.clone()));
                }
                shape.new.splice(at..=at, parts);
                downs.push((column.clone(), down.clone()));
            }
            Op::MergeColumns {
                columns,
                into,
                down,
                ..
            } => {
                for column in columns {
                    moved(column)?;
                }
                let first = position(&shape.new, &columns[0])?;
                let hidden = hidden_column(&into.name);
                shape.new[first] = (into.name.clone(), hidden.clone());
                shape.hidden.push((hidden.clone(), None));
                for column in &columns[1..] {
                    let at = position(&shape.new, column)?;
                    shape.new.remove(at);
                }
                shape.up.push(up(hidden.clone(), &into.up, false));
                shape.backfill.push((hidden, into.up.clone()));
                for (column, expr) in down {
                    downs.push((column.clone(), expr.clone()));
                }
            }
            Op::DropColumn { column, down, .. } => {
                replaceable(old, table, column)?;
                let at = position(&shape.new, column)?;
                let required = old
                    .iter()
                    .any(|c| &c.name == column && c.not_null && !c.has_default);
                if required && down.is_none() {
                    return Err(format!("column `{table}.{column}` is NOT NULL with no default, so rows the new release writes need a value for it: give the op a `down`"));
                }
                shape.new.remove(at);
                if let Some(down) = down {
                    downs.push((column.clone(), down.clone()));
                }
            }
            Op::DropTable { .. } => shape.dropped = true,
            Op::AddConstraint { .. } | Op::CreateIndex { .. } | Op::Sql { .. } => {}
        }
    }
    let physical: BTreeMap<&str, &str> = shape
        .new
        .iter()
        .map(|(name, column)| (name.as_str(), column.as_str()))
        .collect();
    for (target, expr) in downs {
        let sources = names(&expr)
            .into_iter()
            .filter_map(|name| physical.get(name.as_str()).map(|c| c.to_string()))
            .collect();
        shape.down.push(Sync {
            target,
            expr,
            sources,
            when_null: false,
        });
    }
    shape.view = !shape.dropped && shape.new != identity(old);
    Ok(shape)
}

/// Contract drops a replaced column, and what depends on it goes with
/// it: refuse when that is a key. (Its indexes and constraints are
/// `carry.rs`'s.)
fn replaceable(old: &[Column], table: &str, column: &str) -> Result<(), String> {
    let Some(found) = old.iter().find(|c| c.name == column) else {
        return Ok(());
    };
    if found.key {
        return Err(format!("column `{table}.{column}` is in the primary key or a foreign key points at it, so it cannot be replaced or dropped by expand and contract: change it with a classic migration"));
    }
    Ok(())
}

fn identity(old: &[Column]) -> Vec<(String, String)> {
    old.iter()
        .map(|c| (c.name.clone(), c.name.clone()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn users() -> BTreeMap<String, Vec<Column>> {
        let column = |name: &str, not_null| Column {
            name: name.into(),
            not_null,
            has_default: name == "id",
            default: (name == "amount").then(|| "0".to_owned()),
            key: name == "id",
        };
        BTreeMap::from([(
            "users".to_owned(),
            vec![
                column("id", true),
                column("name", true),
                column("amount", false),
                column("email", false),
            ],
        )])
    }

    pub(crate) fn change(ops: &str) -> Change {
        Change::parse(ops).unwrap()
    }

    #[test]
    fn rename_is_view_only() {
        let change = change("[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n");
        let shape = &build(&change, &users()).unwrap()[0];
        assert!(shape.view && !shape.synced() && shape.backfill.is_empty());
        assert_eq!(shape.new[1], ("full_name".into(), "name".into()));
    }

    #[test]
    fn split_replaces_the_column_in_place_and_syncs_both_ways() {
        let change = change("[[op]]\ntype = \"split_column\"\ntable = \"users\"\ncolumn = \"name\"\ninto = [{ name = \"first\", sql_type = \"text\", up = \"split_part(name, ' ', 1)\" }, { name = \"last\", sql_type = \"text\", up = \"split_part(name, ' ', 2)\" }]\ndown = \"first || ' ' || last\"\n");
        let shape = &build(&change, &users()).unwrap()[0];
        let names: Vec<&str> = shape.new.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["id", "first", "last", "amount", "email"]);
        assert_eq!(shape.up[0].sources, ["name"]);
        assert_eq!(shape.down[0].target, "name");
        assert_eq!(
            shape.down[0].sources,
            ["_hoist_new_first", "_hoist_new_last"]
        );
    }

    #[test]
    fn change_type_keeps_not_null_and_names_missing_columns() {
        let change = change("[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"name\"\nsql_type = \"varchar(200)\"\nup = \"name\"\ndown = \"name\"\n");
        let shape = &build(&change, &users()).unwrap()[0];
        assert_eq!(shape.not_null[0].column, "_hoist_new_name");
        let bad =
            self::change("[[op]]\ntype = \"drop_column\"\ntable = \"users\"\ncolumn = \"nope\"\n");
        assert_eq!(
            build(&bad, &users()).unwrap_err(),
            "table `users` has no column `nope`; fix the op, or add the column in an earlier migration"
        );
    }
}
