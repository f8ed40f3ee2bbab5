//! What begin asks PostgreSQL itself before anything is recorded: that
//! every `sql_type` names a type, that every expression is one valid
//! expression over the shape it is written for, and that every `up` (and
//! `backfill`) evaluates on every row there is. A change that passes has
//! nothing in it that fails the moment it reaches the DDL or the backfill,
//! and no NULL for a column that becomes NOT NULL. (A later row the
//! expression fails on is the trigger's to catch: `faults.rs`.)
//!
//! Each check is prepared, never run (or run read-only): a prepared
//! statement holds one command, so an expression with a `;` and a second
//! statement behind it is refused too.

use super::ddl::retryable;
use super::names::hidden_column;
use super::shape::TableShape;
use super::spec::{Change, Op};
use super::sqltext::{qualified, quote};
use super::steps::Run;
use super::types::{ExpandEvent, ExpandStep};
use crate::DbError;
use std::collections::BTreeMap;

/// One expression to check.
struct Expr {
    /// 1-based op number.
    at: usize,
    /// The op's kind.
    kind: &'static str,
    /// The key it was written under (`backfill`, `down.first`...).
    key: String,
    /// The table it is evaluated for.
    table: String,
    /// The text.
    text: String,
    /// The type its value goes into (`up`s and defaults), cast to.
    sql_type: Option<String>,
    /// Names columns as the old release does (else as the new one).
    old: bool,
    /// Evaluated over every row at begin: the backfill will.
    rows: bool,
    /// The hidden column its value fills (`backfill` and `up`s).
    target: Option<String>,
}

impl Expr {
    fn value(&self) -> String {
        match &self.sql_type {
            Some(sql_type) => format!("({})::{sql_type}", self.text),
            None => format!("({})", self.text),
        }
    }

    fn name(&self) -> String {
        format!(
            "op {} ({}): `{}` `{}`",
            self.at, self.kind, self.key, self.text
        )
    }
}

/// Every expression of `change`, with where it is evaluated.
fn expressions(change: &Change) -> Vec<Expr> {
    let mut out = Vec::new();
    for (index, op) in change.ops.iter().enumerate() {
        let Some(table) = op.table() else { continue };
        let mut push = |key: String, text: &str, sql_type: Option<&str>, old: bool| {
            let target = match op {
                Op::AddColumn { column, .. } | Op::ChangeType { column, .. }
                    if key == "backfill" || key == "up" =>
                {
                    Some(hidden_column(column))
                }
                _ => None,
            };
            out.push(Expr {
                at: index + 1,
                kind: op.kind(),
                rows: old && key != "default",
                target,
                key,
                table: table.to_owned(),
                text: text.to_owned(),
                sql_type: sql_type.map(str::to_owned),
                old,
            })
        };
        match op {
            Op::AddColumn {
                sql_type,
                default,
                backfill,
                ..
            } => {
                if let Some(default) = default {
                    push("default".into(), default, Some(sql_type), true);
                }
                if let Some(backfill) = backfill {
                    push("backfill".into(), backfill, Some(sql_type), true);
                }
            }
            Op::ChangeType {
                sql_type, up, down, ..
            } => {
                push("up".into(), up, Some(sql_type), true);
                push("down".into(), down, None, false);
            }
            Op::SplitColumn { into, down, .. } => {
                for column in into {
                    let key = format!("into.{}.up", column.name);
                    push(key, &column.up, Some(&column.sql_type), true);
                }
                push("down".into(), down, None, false);
            }
            Op::MergeColumns { into, down, .. } => {
                push("into.up".into(), &into.up, Some(&into.sql_type), true);
                for (column, expr) in down {
                    push(format!("down.{column}"), expr, None, false);
                }
            }
            Op::DropColumn {
                down: Some(down), ..
            } => push("down".into(), down, None, false),
            Op::AddConstraint {
                check: Some(check), ..
            } => push("check".into(), check, None, false),
            Op::CreateIndex {
                predicate: Some(predicate),
                ..
            } => push("where".into(), predicate, None, false),
            _ => {}
        }
    }
    out
}

/// Each `sql_type` of `change`: (op number, op kind, key, type).
fn sql_types(change: &Change) -> Vec<(usize, &'static str, &'static str, &str)> {
    let mut out = Vec::new();
    for (at, op) in change.ops.iter().enumerate() {
        match op {
            Op::AddColumn { sql_type, .. } | Op::ChangeType { sql_type, .. } => {
                out.push((at + 1, op.kind(), "sql_type", sql_type.as_str()))
            }
            Op::SplitColumn { into, .. } => out.extend(
                into.iter()
                    .map(|c| (at + 1, op.kind(), "into.sql_type", c.sql_type.as_str())),
            ),
            Op::MergeColumns { into, .. } => {
                out.push((at + 1, op.kind(), "into.sql_type", into.sql_type.as_str()))
            }
            _ => {}
        }
    }
    out
}

/// The hidden columns of `table` and their types: the new shape reads
/// them before they exist, as typed NULLs.
fn hidden_types(change: &Change, table: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for op in change.ops.iter().filter(|op| op.table() == Some(table)) {
        match op {
            Op::AddColumn {
                column, sql_type, ..
            }
            | Op::ChangeType {
                column, sql_type, ..
            } => {
                out.insert(hidden_column(column), sql_type.clone());
            }
            Op::SplitColumn { into, .. } => {
                for c in into {
                    out.insert(hidden_column(&c.name), c.sql_type.clone());
                }
            }
            Op::MergeColumns { into, .. } => {
                out.insert(hidden_column(&into.name), into.sql_type.clone());
            }
            _ => {}
        }
    }
    out
}

/// The `FROM` item that shows `table` as the new release sees it.
fn new_shape(change: &Change, base: &str, table: &str, shapes: &[TableShape]) -> String {
    let Some(shape) = shapes.iter().find(|s| s.table == table) else {
        return format!("{} AS {}", qualified(base, table), quote(table));
    };
    let hidden = hidden_types(change, table);
    let columns: Vec<String> = shape
        .new
        .iter()
        .map(|(name, physical)| match hidden.get(physical) {
            Some(sql_type) => format!("NULL::{sql_type} AS {}", quote(name)),
            None => format!("{} AS {}", quote(physical), quote(name)),
        })
        .collect();
    format!(
        "(SELECT {} FROM {}) AS {}",
        columns.join(", "),
        qualified(base, table),
        quote(table)
    )
}

impl Run<'_> {
    fn refuse(&self, problem: String) -> DbError {
        DbError::ExpandInvalid {
            database: self.ddl.database.clone(),
            migration: self.ddl.migration.clone(),
            problem,
        }
    }

    /// Refuses a `sql_type` PostgreSQL does not take as a type (the text
    /// was checked for `;` and comments at parse).
    pub(super) fn verify_types(&mut self, change: &Change) -> Result<(), DbError> {
        for (at, kind, key, sql_type) in sql_types(change) {
            let sql = format!("SELECT NULL::{sql_type}");
            if let Err(error) = self.ddl.client.prepare(&sql) {
                if error.as_db_error().is_none() {
                    return Err(self
                        .ddl
                        .failed(ExpandStep::Begin, "check the types", &error));
                }
                return Err(self.refuse(format!(
                    "op {at} ({kind}): `{key}` `{sql_type}` is not a type PostgreSQL knows ({}); fix the type, or create it in an earlier migration",
                    super::ddl::message(&error)
                )));
            }
        }
        Ok(())
    }

    /// Refuses an expression that is not one valid expression over its
    /// shape (prepared), or an `up` that fails on a row there is (run
    /// over the table, read-only). `shapes` are the reshaped tables;
    /// a table a `sql` op makes is not there yet and is not checked.
    pub(super) fn verify_expressions(
        &mut self,
        change: &Change,
        shapes: &[TableShape],
        exists: &dyn Fn(&str) -> bool,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.options.base_schema.clone();
        let all = expressions(change);
        // Prepared: over a table that exists, in a shape known here (a
        // reshaped table's new shape is not when a `sql` op of the file
        // makes another table).
        let shaped = super::shape::shaped_tables(change);
        let preparable = |e: &Expr| {
            exists(&e.table)
                && (e.old
                    || !shaped.contains(&e.table)
                    || shapes.iter().any(|s| s.table == e.table))
        };
        let checked: Vec<&Expr> = all.iter().filter(|e| preparable(e)).collect();
        // What cannot be prepared (see above): what a second statement
        // needs is refused by sight.
        for expr in all.iter().filter(|e| !preparable(e)) {
            if [";", "--", "/*"].iter().any(|s| expr.text.contains(s)) {
                return Err(self.refuse(format!(
                    "{} holds `;` or a comment, and PostgreSQL cannot check it before the `sql` op of this file that makes `{}` runs: drop them, or move the op to a later migration",
                    expr.name(),
                    expr.table
                )));
            }
        }
        for expr in &checked {
            let from = match expr.old {
                true => format!(
                    "{} AS {}",
                    qualified(&base, &expr.table),
                    quote(&expr.table)
                ),
                false => new_shape(change, &base, &expr.table, shapes),
            };
            // A predicate is a WHERE; the rest are values.
            let sql = match expr.key.as_str() {
                "where" | "check" => format!("SELECT 1 FROM {from} WHERE ({})\nLIMIT 0", expr.text),
                _ => format!("SELECT {}\nFROM {from} LIMIT 0", expr.value()),
            };
            if let Err(error) = self.ddl.client.prepare(&sql) {
                if error.as_db_error().is_none() {
                    return Err(self.ddl.failed(
                        ExpandStep::Begin,
                        "check the expressions",
                        &error,
                    ));
                }
                let side = if expr.old { "old" } else { "new" };
                return Err(self.refuse(format!(
                    "{} is not one expression over `{}` as the {side} release sees it ({}); fix the expression",
                    expr.name(),
                    expr.table,
                    super::ddl::message(&error)
                )));
            }
        }
        // Every row, as the backfill will: one read-only scan per table,
        // and on a failure one per expression to name it.
        let mut tables: Vec<&str> = checked
            .iter()
            .filter(|e| e.rows)
            .map(|e| e.table.as_str())
            .collect();
        tables.dedup();
        for table in tables {
            let exprs: Vec<&&Expr> = checked
                .iter()
                .filter(|e| e.rows && e.table == table)
                .collect();
            let scan = |values: &[String]| {
                format!(
                    "SELECT count(ROW({}, true)) FROM {} AS {}",
                    values.join(", "),
                    qualified(&base, table),
                    quote(table)
                )
            };
            let values: Vec<String> = exprs.iter().map(|e| e.value()).collect();
            let Some(_) = self.evaluate(&scan(&values), events)? else {
                continue;
            };
            for expr in &exprs {
                if let Some(message) = self.evaluate(&scan(&[expr.value()]), events)? {
                    return Err(self.refuse(format!(
                        "{} fails on a row of `{table}` ({message}), so the backfill would fail; fix the expression (or the rows)",
                        expr.name()
                    )));
                }
            }
        }
        self.verify_not_null(&checked, shapes, events)
    }

    /// A value for a column that becomes NOT NULL must not be NULL on any
    /// existing row: the new release would read NULL there, and contract
    /// could not set NOT NULL. One read-only count per such expression.
    fn verify_not_null(
        &mut self,
        checked: &[&Expr],
        shapes: &[TableShape],
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.options.base_schema.clone();
        let not_null = |expr: &Expr| {
            let Some(target) = &expr.target else {
                return false;
            };
            shapes.iter().any(|shape| {
                shape.table == expr.table && shape.not_null.iter().any(|n| &n.column == target)
            })
        };
        for expr in checked.iter().filter(|e| e.rows && not_null(e)) {
            let sql = format!(
                "SELECT count(*) FROM {} AS {} WHERE {} IS NULL",
                qualified(&base, &expr.table),
                quote(&expr.table),
                expr.value()
            );
            let nulls: i64 = self.ddl.outside(
                ExpandStep::Begin,
                "check the expressions",
                events,
                |client| {
                    let mut tx = client.build_transaction().read_only(true).start()?;
                    tx.query_one(&sql, &[]).map(|row| row.get(0))
                },
            )?;
            if nulls > 0 {
                let column = expr
                    .target
                    .as_deref()
                    .and_then(super::names::shown)
                    .unwrap_or_default();
                return Err(self.refuse(format!(
                    "{} gives NULL on {nulls} row(s) of `{}`, and `{column}` becomes NOT NULL: the new release would read NULL there; fix the expression (`coalesce(..., fallback)`) or the rows",
                    expr.name(),
                    expr.table
                )));
            }
        }
        Ok(())
    }

    /// Runs `sql` in a read-only transaction, rolled back: `Some` is the
    /// database's refusal.
    fn evaluate(
        &mut self,
        sql: &str,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Option<String>, DbError> {
        // A lock wait that gave up is tried again, not taken for a bad row.
        self.ddl.outside(
            ExpandStep::Begin,
            "check the expressions",
            events,
            |client| {
                let mut tx = client.build_transaction().read_only(true).start()?;
                match tx.batch_execute(sql) {
                    Ok(()) => Ok(None),
                    Err(error) if error.as_db_error().is_some() && !retryable(&error) => {
                        Ok(Some(super::ddl::message(&error)))
                    }
                    Err(error) => Err(error),
                }
            },
        )
    }
}
