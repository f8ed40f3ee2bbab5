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

mod check;

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
        let change: Change = toml::from_str(text)
            .map_err(|error| op_error(text).unwrap_or_else(|| error.to_string()))?;
        change.check()?;
        Ok(change)
    }
}

/// The first `[[op]]` that does not read as an [`Op`], said as the checks
/// say it (`op 2 (change_type): missing field `up``): serde reports a
/// tagged enum's missing key at the `[[op]]` line, naming neither the
/// op's number nor its type. `None` when every op reads (the problem is
/// elsewhere, and TOML's own message with its line says it best).
fn op_error(text: &str) -> Option<String> {
    let file: toml::Table = toml::from_str(text).ok()?;
    let ops = file.get("op")?.as_array()?;
    ops.iter().enumerate().find_map(|(index, op)| {
        let error = Op::deserialize(op.clone()).err()?;
        let kind = op
            .get("type")
            .and_then(toml::Value::as_str)
            .unwrap_or("no `type`");
        Some(format!("op {} ({kind}): {}", index + 1, error.message()))
    })
}
