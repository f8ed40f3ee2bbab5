//! The first step: check the change against the database, then record
//! the expansion (state row and history row) in one transaction. A
//! change that cannot work is refused here, before anything is recorded.

use super::catalog;
use super::shape::{self, Column};
use super::spec::{Change, Op};
use super::state::{self, State};
use super::steps::Run;
use super::types::{ExpandEvent, ExpandStep};
use crate::{DbError, Migration};
use std::collections::BTreeMap;

impl Run<'_> {
    /// Refuses a change that names a missing table or column, or that
    /// must backfill a table with no primary key.
    pub fn check(&mut self, change: &Change) -> Result<(), DbError> {
        let base = self.options.base_schema.clone();
        let invalid = |run: &Run<'_>, problem: String| DbError::ExpandInvalid {
            database: run.ddl.database.clone(),
            migration: run.ddl.migration.clone(),
            problem,
        };
        // A table may come from a `sql` op of the same file; PostgreSQL
        // names it then, if it does not.
        let makes_tables = change.ops.iter().any(|op| matches!(op, Op::Sql { .. }));
        let mut columns: BTreeMap<String, Vec<Column>> = BTreeMap::new();
        for table in change.ops.iter().filter_map(Op::table) {
            let found = catalog::columns(self.ddl.client, &base, table)
                .map_err(|e| self.ddl.failed(ExpandStep::Begin, "read the catalog", &e))?;
            match found {
                Some(found) => {
                    columns.insert(table.to_owned(), found);
                }
                None if makes_tables => return Ok(()),
                None => {
                    return Err(invalid(
                        self,
                        format!("table `{table}` does not exist in schema `{base}`"),
                    ))
                }
            }
        }
        let shapes = shape::build(change, &columns).map_err(|p| invalid(self, p))?;
        for shape in super::backfill::batches(&shapes) {
            let key = catalog::primary_key(self.ddl.client, &base, &shape.table).map_err(|e| {
                self.ddl
                    .failed(ExpandStep::Begin, "read the primary key", &e)
            })?;
            if key.is_empty() {
                return Err(DbError::NoPrimaryKey {
                    database: self.ddl.database.clone(),
                    migration: self.ddl.migration.clone(),
                    table: shape.table.clone(),
                });
            }
        }
        Ok(())
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
        self.check(change)?;
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
