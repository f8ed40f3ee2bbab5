//! The declarative migration file, `NNNN_name.toml`: operations hoist
//! knows how to run in two phases (expand now, contract later).
//!
//! ```toml
//! description = "users.name becomes full_name"
//!
//! [[op]]
//! type = "rename_column"
//! table = "users"
//! from = "name"
//! to = "full_name"
//! ```
//!
//! Expressions are SQL evaluated for one row. An `up` expression names
//! columns as the *old* release sees the table; a `down` expression names
//! them as the *new* release does. Identifiers are plain PostgreSQL names
//! (`[a-z_][a-z0-9_]*`, at most 63 bytes), so nothing needs quoting and no
//! name can smuggle SQL; types and expressions are SQL text from the
//! release, trusted as a `.up.sql` file is.

use serde::Deserialize;

/// One declarative migration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// What the change is for; shown by `hoist db status`.
    #[serde(default)]
    pub description: Option<String>,
    /// The operations, run in order.
    #[serde(rename = "op")]
    pub ops: Vec<Op>,
}

/// A new column's name, type and how to fill it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewColumn {
    /// The column's name as the new release sees it.
    pub name: String,
    /// Its SQL type, e.g. `text` or `numeric(12,2)`.
    pub sql_type: String,
    /// Its value from a row as the old release sees it.
    pub up: String,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignKey {
    /// The referencing columns of the table.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns (its primary key when left out).
    #[serde(default)]
    pub references_columns: Vec<String>,
    /// `cascade`, `restrict`, `set null`, `set default` or `no action` (the default).
    #[serde(default)]
    pub on_delete: Option<String>,
}

/// One operation of a [`Change`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// A new column. The old release never sees it; rows it writes get
    /// `backfill` (or `default`), so a NOT NULL column holds for both.
    AddColumn {
        /// The table.
        table: String,
        /// The new column.
        column: String,
        /// Its SQL type.
        sql_type: String,
        /// Its default, an SQL expression, for rows that do not give it.
        #[serde(default)]
        default: Option<String>,
        /// NOT NULL (checked NOT VALID first, validated, then set at contract).
        #[serde(default)]
        not_null: bool,
        /// Its value for existing rows and rows the old release writes: an
        /// `up` expression. Required with `not_null` and no `default`.
        #[serde(default)]
        backfill: Option<String>,
    },
    /// A column gets a new name; only views change until contract.
    RenameColumn {
        /// The table.
        table: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A column's type changes; both types are kept in step until contract.
    ChangeType {
        /// The table.
        table: String,
        /// The column (the same name in both releases).
        column: String,
        /// The new SQL type.
        sql_type: String,
        /// The new value from the old row.
        up: String,
        /// The old value from the new row.
        down: String,
    },
    /// One column becomes several.
    SplitColumn {
        /// The table.
        table: String,
        /// The old column.
        column: String,
        /// The new columns, each with its `up`.
        into: Vec<NewColumn>,
        /// The old column's value from a new row.
        down: String,
    },
    /// Several columns become one.
    MergeColumns {
        /// The table.
        table: String,
        /// The old columns.
        columns: Vec<String>,
        /// The new column, with its `up` over the old ones.
        into: NewColumn,
        /// Each old column's value from a new row: `{ first = "...", last = "..." }`.
        down: std::collections::BTreeMap<String, String>,
    },
    /// A CHECK constraint or a foreign key: added NOT VALID, then VALIDATEd
    /// without blocking writes.
    AddConstraint {
        /// The table.
        table: String,
        /// The constraint's name.
        name: String,
        /// A CHECK expression (this or `foreign_key`).
        #[serde(default)]
        check: Option<String>,
        /// A foreign key (this or `check`).
        #[serde(default)]
        foreign_key: Option<ForeignKey>,
    },
    /// An index built CONCURRENTLY, so writes go on while it builds.
    CreateIndex {
        /// The table.
        table: String,
        /// The index's name.
        name: String,
        /// Column names or expressions, in order.
        columns: Vec<String>,
        /// A unique index.
        #[serde(default)]
        unique: bool,
        /// The access method (`btree` when left out).
        #[serde(default)]
        method: Option<String>,
        /// A partial index's predicate.
        #[serde(default, rename = "where")]
        predicate: Option<String>,
    },
    /// The new release stops using a column; it is dropped at contract.
    DropColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its value for rows the new release writes (needed when it is NOT
        /// NULL without a default): a `down` expression.
        #[serde(default)]
        down: Option<String>,
    },
    /// The new release stops using a table; it is dropped at contract.
    DropTable {
        /// The table.
        table: String,
    },
    /// Plain SQL at expand for what the list lacks (e.g. `CREATE TABLE`),
    /// in one transaction; `down` runs at abort.
    Sql {
        /// The SQL run at expand.
        up: String,
        /// The SQL that undoes it at abort.
        #[serde(default)]
        down: Option<String>,
    },
}

impl Op {
    /// The operation's `type`, as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::AddColumn { .. } => "add_column",
            Op::RenameColumn { .. } => "rename_column",
            Op::ChangeType { .. } => "change_type",
            Op::SplitColumn { .. } => "split_column",
            Op::MergeColumns { .. } => "merge_columns",
            Op::AddConstraint { .. } => "add_constraint",
            Op::CreateIndex { .. } => "create_index",
            Op::DropColumn { .. } => "drop_column",
            Op::DropTable { .. } => "drop_table",
            Op::Sql { .. } => "sql",
        }
    }

    /// The table it changes (`None` for `sql`).
    pub fn table(&self) -> Option<&str> {
        match self {
            Op::AddColumn { table, .. }
            | Op::RenameColumn { table, .. }
            | Op::ChangeType { table, .. }
            | Op::SplitColumn { table, .. }
            | Op::MergeColumns { table, .. }
            | Op::AddConstraint { table, .. }
            | Op::CreateIndex { table, .. }
            | Op::DropColumn { table, .. }
            | Op::DropTable { table } => Some(table),
            Op::Sql { .. } => None,
        }
    }
}

impl Change {
    /// Parses and checks a file's text; `Err` says what is wrong, naming
    /// the operation (`op 2 (rename_column)`) or the key.
    pub fn parse(text: &str) -> Result<Change, String> {
        let change: Change = toml::from_str(text).map_err(|error| error.to_string())?;
        change.check()?;
        Ok(change)
    }

    fn check(&self) -> Result<(), String> {
        if self.ops.is_empty() {
            return Err("has no `[[op]]`; add at least one operation".into());
        }
        let mut touched: Vec<(String, String)> = Vec::new();
        for (index, op) in self.ops.iter().enumerate() {
            let at = |problem: String| format!("op {} ({}): {problem}", index + 1, op.kind());
            op.check().map_err(at)?;
            for column in op.columns_touched() {
                let key = (op.table().unwrap_or_default().to_owned(), column.to_owned());
                if touched.contains(&key) {
                    return Err(at(format!(
                        "column `{}.{}` is changed by an earlier op too; put the second change in a later migration",
                        key.0, key.1
                    )));
                }
                touched.push(key);
            }
        }
        Ok(())
    }

    fn no_empty(key: &str, value: &str) -> Result<(), String> {
        if value.trim().is_empty() {
            return Err(format!("`{key}` is empty"));
        }
        Ok(())
    }
}

impl Op {
    /// The columns it adds, renames or drops (each may be changed by one
    /// op of a file only, so the shapes compose without surprises).
    fn columns_touched(&self) -> Vec<&str> {
        match self {
            Op::AddColumn { column, .. }
            | Op::ChangeType { column, .. }
            | Op::DropColumn { column, .. } => vec![column],
            Op::RenameColumn { from, to, .. } => vec![from, to],
            Op::SplitColumn { column, into, .. } => {
                let mut all = vec![column.as_str()];
                all.extend(into.iter().map(|c| c.name.as_str()));
                all
            }
            Op::MergeColumns { columns, into, .. } => {
                let mut all: Vec<&str> = columns.iter().map(String::as_str).collect();
                all.push(&into.name);
                all
            }
            _ => Vec::new(),
        }
    }

    fn check(&self) -> Result<(), String> {
        if let Some(table) = self.table() {
            identifier("table", table)?;
        }
        match self {
            Op::AddColumn {
                column,
                sql_type,
                default,
                not_null,
                backfill,
                ..
            } => {
                identifier("column", column)?;
                Change::no_empty("sql_type", sql_type)?;
                if *not_null && default.is_none() && backfill.is_none() {
                    return Err("a `not_null` column needs `backfill` (or `default`) for the rows that exist and the rows the old release writes".into());
                }
            }
            Op::RenameColumn { from, to, .. } => {
                identifier("from", from)?;
                identifier("to", to)?;
                if from == to {
                    return Err(format!("`from` and `to` are both `{from}`"));
                }
            }
            Op::ChangeType {
                column,
                sql_type,
                up,
                down,
                ..
            } => {
                identifier("column", column)?;
                Change::no_empty("sql_type", sql_type)?;
                Change::no_empty("up", up)?;
                Change::no_empty("down", down)?;
            }
            Op::SplitColumn {
                column, into, down, ..
            } => {
                identifier("column", column)?;
                if into.len() < 2 {
                    return Err("`into` needs two or more columns".into());
                }
                new_columns(into)?;
                Change::no_empty("down", down)?;
            }
            Op::MergeColumns {
                columns,
                into,
                down,
                ..
            } => {
                if columns.len() < 2 {
                    return Err("`columns` needs two or more columns".into());
                }
                for column in columns {
                    identifier("columns", column)?;
                    if !down.contains_key(column) {
                        return Err(format!("`down` has no expression for `{column}`"));
                    }
                }
                if let Some(extra) = down.keys().find(|key| !columns.contains(key)) {
                    return Err(format!("`down.{extra}` is not one of `columns`"));
                }
                new_columns(std::slice::from_ref(into))?;
            }
            Op::AddConstraint {
                name,
                check,
                foreign_key,
                ..
            } => {
                identifier("name", name)?;
                match (check, foreign_key) {
                    (Some(check), None) => Change::no_empty("check", check)?,
                    (None, Some(key)) => {
                        if key.columns.is_empty() {
                            return Err("`foreign_key.columns` is empty".into());
                        }
                        for column in key.columns.iter().chain(&key.references_columns) {
                            identifier("foreign_key.columns", column)?;
                        }
                        identifier("foreign_key.references", &key.references)?;
                        if let Some(action) = &key.on_delete {
                            let known = [
                                "cascade",
                                "restrict",
                                "set null",
                                "set default",
                                "no action",
                            ];
                            if !known.contains(&action.to_ascii_lowercase().as_str()) {
                                return Err(format!(
                                    "`foreign_key.on_delete` `{action}` is not one of {}",
                                    known.join(", ")
                                ));
                            }
                        }
                    }
                    _ => return Err("give exactly one of `check` and `foreign_key`".into()),
                }
            }
            Op::CreateIndex {
                name,
                columns,
                method,
                ..
            } => {
                identifier("name", name)?;
                if columns.is_empty() {
                    return Err("`columns` is empty".into());
                }
                if let Some(method) = method {
                    identifier("method", method)?;
                }
            }
            Op::DropColumn { column, .. } => identifier("column", column)?,
            Op::DropTable { .. } => {}
            Op::Sql { up, .. } => Change::no_empty("up", up)?,
        }
        Ok(())
    }
}

fn new_columns(columns: &[NewColumn]) -> Result<(), String> {
    for column in columns {
        identifier("into.name", &column.name)?;
        Change::no_empty("into.sql_type", &column.sql_type)?;
        Change::no_empty("into.up", &column.up)?;
    }
    Ok(())
}

/// A plain PostgreSQL name: lower case, so it means the same quoted or not.
pub(crate) fn identifier(key: &str, name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let plain = matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
        && !name.starts_with("_hoist")
        && !name.starts_with("hoist_");
    if plain {
        return Ok(());
    }
    Err(format!(
        "`{key}` `{name}` is not a plain name: use lower-case letters, digits and `_`, at most 63 bytes, not starting with a digit, `_hoist` or `hoist_`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_add_column() {
        let text = "description = \"plans\"\n[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"'free'\"\n";
        let change = Change::parse(text).unwrap();
        assert_eq!(change.description.as_deref(), Some("plans"));
        assert!(
            matches!(&change.ops[0], Op::AddColumn { not_null: true, backfill: Some(b), .. } if b == "'free'")
        );
    }

    #[test]
    fn not_null_without_a_value_is_refused() {
        let text = "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\n";
        assert!(Change::parse(text)
            .unwrap_err()
            .contains("needs `backfill`"));
    }

    #[test]
    fn names_the_op_and_the_key() {
        let text = "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"Name\"\nto = \"full_name\"\n";
        let problem = Change::parse(text).unwrap_err();
        assert!(
            problem.contains("op 1 (rename_column)") && problem.contains("`from` `Name`"),
            "{problem}"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let text = "[[op]]\ntype = \"drop_table\"\ntable = \"users\"\ncascade = true\n";
        assert!(Change::parse(text).unwrap_err().contains("cascade"));
    }

    #[test]
    fn one_column_one_op_per_file() {
        let text = "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n[[op]]\ntype = \"drop_column\"\ntable = \"users\"\ncolumn = \"full_name\"\n";
        assert!(Change::parse(text)
            .unwrap_err()
            .contains("op 2 (drop_column)"));
    }
}
