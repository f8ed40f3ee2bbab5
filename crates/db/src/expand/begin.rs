//! The first step: check the change against the database, then record
//! the expansion (state row and history row) in one transaction. A
//! change that cannot work is refused here, before anything is recorded.

use super::carry::{probe_sql, Carried};
use super::catalog;
use super::ddl::{message, retryable};
use super::names::hidden_column;
use super::shape::{self, Column};
use super::spec::{Change, Op};
use super::state::{self, State};
use super::steps::Run;
use super::types::{ExpandEvent, ExpandStep};
use crate::{DbError, Migration};
use std::collections::BTreeMap;

impl Run<'_> {
    /// Refuses a change that names a missing table or column, whose
    /// types or expressions PostgreSQL refuses or whose `up` fails on a
    /// row (`verify.rs`), that must backfill a table with no primary key, or whose contract would drop
    /// an index or constraint that cannot be kept (`carry.rs`).
    pub fn check(
        &mut self,
        change: &Change,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.options.base_schema.clone();
        let invalid = |run: &Run<'_>, problem: String| DbError::ExpandInvalid {
            database: run.ddl.database.clone(),
            migration: run.ddl.migration.clone(),
            problem,
        };
        self.verify_types(change)?;
        // A table may come from a `sql` op of the same file; PostgreSQL
        // names it then, if it does not.
        let makes_tables = change.ops.iter().any(|op| matches!(op, Op::Sql { .. }));
        let mut columns: BTreeMap<String, Vec<Column>> = BTreeMap::new();
        let mut missing = false;
        for table in change.ops.iter().filter_map(Op::table) {
            let found = catalog::columns(self.ddl.client, &base, table)
                .map_err(|e| self.ddl.failed(ExpandStep::Begin, "read the catalog", &e))?;
            match found {
                Some(found) => {
                    columns.insert(table.to_owned(), found);
                }
                None if makes_tables => missing = true,
                None => {
                    return Err(invalid(
                        self,
                        format!("table `{table}` does not exist in schema `{base}`; create it in an earlier migration, or fix the op's `table`"),
                    ))
                }
            }
        }
        if let Some(problem) = self.taken(change)? {
            return Err(invalid(self, problem));
        }
        let mut blocked = Vec::new();
        for table in shape::shaped_tables(change) {
            let found = super::blockers::find(self.ddl.client, &base, &table, change)
                .map_err(|e| self.ddl.failed(ExpandStep::Begin, "read the views", &e))?;
            blocked.extend(found);
        }
        if !blocked.is_empty() {
            return Err(invalid(self, blocked.join("; ")));
        }
        // A table a `sql` op makes has nothing to check yet.
        let shapes = match missing {
            true => Vec::new(),
            false => shape::build(change, &columns).map_err(|p| invalid(self, p))?,
        };
        let exists = |table: &str| columns.contains_key(table);
        self.verify_expressions(change, &shapes, &exists, events)?;
        // A backfill walks the key; a trigger that computes a value names
        // the row it could not compute by it (`faults.rs`).
        for shape in shapes
            .iter()
            .filter(|s| !s.dropped && (s.synced() || !s.backfill.is_empty()))
        {
            self.primary_key(ExpandStep::Begin, &shape.table)?;
        }
        let (carried, refused) = self.carried(change, ExpandStep::Begin)?;
        if !refused.is_empty() {
            return Err(invalid(self, refused.join("; ")));
        }
        for index in &carried {
            if let Some(problem) = self.probe(change, index, events)? {
                return Err(invalid(self, format!("index `{}` reads a column `change_type` replaces, and contract would drop it with the column; built again over the new column it fails ({problem}): drop the index in an earlier migration and add a `create_index` op for the new column", index.old)));
            }
        }
        Ok(())
    }

    /// A `create_index` or `add_constraint` op whose name the database
    /// has already: abort drops what the ops name, so it would drop the
    /// app's own index or constraint.
    fn taken(&mut self, change: &Change) -> Result<Option<String>, DbError> {
        let base = self.options.base_schema.clone();
        for (at, op) in change.ops.iter().enumerate() {
            let found = match op {
                Op::CreateIndex { name, .. } => {
                    catalog::relation_exists(self.ddl.client, &base, name)
                        .map(|taken| taken.then(|| format!("a relation `{base}.{name}`")))
                }
                Op::AddConstraint { table, name, .. } => {
                    catalog::constraint_exists(self.ddl.client, &base, table, name)
                        .map(|taken| taken.then(|| format!("a constraint `{name}` on `{table}`")))
                }
                _ => Ok(None),
            };
            let found =
                found.map_err(|e| self.ddl.failed(ExpandStep::Begin, "read the catalog", &e))?;
            if let Some(what) = found {
                return Ok(Some(format!("op {} ({}) names {what}, which exists already (abort would drop it): give the op another name", at + 1, op.kind())));
            }
        }
        Ok(None)
    }

    /// Tries `index` on an empty copy of its table with the new columns,
    /// in a transaction rolled back; `Some` is the database's refusal.
    fn probe(
        &mut self,
        change: &Change,
        index: &Carried,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Option<String>, DbError> {
        let types: Vec<(String, String)> = change
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::ChangeType {
                    table,
                    column,
                    sql_type,
                    ..
                } if *table == index.table => Some((hidden_column(column), sql_type.clone())),
                _ => None,
            })
            .collect();
        let sql = probe_sql(&self.options.base_schema, &index.table, &types, index);
        let what = format!("try index `{}` over the new column", index.old);
        self.ddl
            .outside(ExpandStep::Begin, &what, events, |client| {
                let mut tx = client.transaction()?;
                for statement in &sql {
                    if let Err(error) = tx.batch_execute(statement) {
                        if retryable(&error) {
                            return Err(error);
                        }
                        return Ok(Some(message(&error)));
                    }
                }
                // Dropped uncommitted: rolled back, nothing kept.
                Ok(None)
            })
    }

    /// Records a new expansion of `migration` with `release` on its new side.
    pub fn begin(
        &mut self,
        migration: &Migration,
        change: &Change,
        release: &str,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<State, DbError> {
        events(ExpandEvent::Step(ExpandStep::Begin));
        self.check(change, events)?;
        let state = State {
            version: migration.version,
            name: migration.name.clone(),
            checksum: migration.checksum.clone(),
            text: migration.up.clone(),
            change: change.clone(),
            step: ExpandStep::Columns,
            new_releases: vec![release.to_owned()],
            backfill: Vec::new(),
            started_at: jiff::Timestamp::now().to_string(),
            started_by: self.options.who.clone(),
            failed: None,
        };
        let base = self.options.base_schema.clone();
        let who = self.options.who.clone();
        self.ddl
            .tx(ExpandStep::Begin, "record the expansion", events, |tx| {
                state::create(tx, &base)?;
                state::insert(tx, &base, &state)?;
                super::history::insert(tx, migration, &who)
            })?;
        Ok(state)
    }
}
