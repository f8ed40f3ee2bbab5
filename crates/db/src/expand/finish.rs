//! Ending an expansion: contract (`complete`) or undo (`abort`).

use super::abort;
use super::catalog;
use super::contract;
use super::faults;
use super::history;
use super::shape::shaped_tables;
use super::state::{self, State};
use super::steps::Run;
use super::triggers;
use super::types::{ExpandEvent, ExpandStep, Finished};
use super::views;
use crate::DbError;
use postgres::Transaction;

impl Run<'_> {
    /// Every view schema to drop: those hoist made (their comment says
    /// so, written with them). A schema of the same name hoist did not
    /// make is left alone: dropping it would cascade to what it holds.
    fn all_view_schemas(&mut self, step: ExpandStep) -> Result<Vec<String>, DbError> {
        let found = catalog::view_schemas(self.ddl.client)
            .map_err(|e| self.ddl.failed(step, "read the view schemas", &e))?;
        Ok(found.into_iter().map(|(schema, _)| schema).collect())
    }

    /// Contract, in one transaction.
    pub fn complete(
        &mut self,
        state: &State,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Finished, DbError> {
        let base = self.options.base_schema.clone();
        let shapes = self.shapes(&state.change, ExpandStep::Completing)?;
        // Read before the old columns go: the indexes built again over
        // the hidden columns take their old names after the drop.
        let (carried, _) = self.carried(&state.change, ExpandStep::Completing)?;
        let mut placed = Vec::new();
        // Every refusal before the step is recorded: it leaves the
        // expansion open, both shapes served as they were.
        for index in &carried {
            let built = catalog::index_valid(self.ddl.client, &base, &index.name).map_err(|e| {
                self.ddl
                    .failed(ExpandStep::Completing, "read the indexes", &e)
            })?;
            if built != Some(true) {
                // Made on the old column after the constraints step: it
                // would go with the column, unannounced.
                return Err(DbError::ExpandFailed {
                    database: self.ddl.database.clone(),
                    migration: state.name.clone(),
                    step: ExpandStep::Completing.as_str(),
                    what: format!("keep index `{}`", index.old),
                    message: format!("index `{}` on `{}` has no valid copy over the new column (`{}`), so contract would drop it: build it with `{}` (or drop it)", index.old, index.table, index.name, index.create_sql(&base)),
                });
            }
            placed.push(index.place_sql(&base));
        }
        self.settle(&shapes, events)?;
        // The NOT NULL checks come with the step: from here on the
        // expansion only goes forward, and nothing on the old side writes.
        let entering = state.step != ExpandStep::Completing;
        self.not_null_checks(
            &shapes,
            |tx| match entering {
                true => state::set_step(tx, &base, ExpandStep::Completing),
                false => Ok(()),
            },
            events,
        )?;
        events(ExpandEvent::Step(ExpandStep::Completing));
        let schemas = self.all_view_schemas(ExpandStep::Completing)?;
        let plan = contract::contract(&state.change, &shapes, &base);
        // A row recorded after `settle` looked fails the transaction.
        let mut sql = vec![faults::none_left_sql(&base)];
        sql.extend(schemas.iter().map(|s| views::drop_sql(s)));
        for shape in shapes.iter() {
            sql.push(triggers::drop_sql(&shape.table, &shape.function(), &base));
        }
        sql.extend(plan.sql.iter().cloned());
        sql.extend(placed);
        let version = state.version;
        self.end(ExpandStep::Completing, "contract", &sql, events, |tx| {
            history::contracted(tx, version)
        })?;
        Ok(Finished {
            dropped: plan.dropped,
            renamed: plan.renamed,
            ..self.finished(state, schemas)
        })
    }

    /// Undo: indexes (concurrently), then one transaction for the rest.
    pub fn abort(
        &mut self,
        state: &State,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Finished, DbError> {
        let base = self.options.base_schema.clone();
        // Before the columns step committed nothing but the records exist.
        let changed = !matches!(state.step, ExpandStep::Begin | ExpandStep::Columns);
        if changed {
            // Let through once already (a crash resumes it), or undone by hand.
            let refused = state.step != ExpandStep::Aborting && !self.options.sql_undone;
            if let Some(op) = abort::missing_down(&state.change).filter(|_| refused) {
                return Err(DbError::CannotAbort {
                    database: self.ddl.database.clone(),
                    migration: state.name.clone(),
                    op,
                });
            }
            self.enter(state, ExpandStep::Aborting, events)?;
        }
        events(ExpandEvent::Step(ExpandStep::Aborting));
        let schemas = self.all_view_schemas(ExpandStep::Aborting)?;
        let mut sql: Vec<String> = schemas.iter().map(|s| views::drop_sql(s)).collect();
        let mut dropped = Vec::new();
        if changed {
            let (carried, _) = self.carried(&state.change, ExpandStep::Aborting)?;
            let carried = carried.iter().map(|index| {
                (
                    format!("drop index `{}`", index.name),
                    index.drop_sql(&base),
                )
            });
            for (what, statement) in abort::drop_indexes(&state.change, &base)
                .into_iter()
                .chain(carried)
            {
                self.ddl
                    .outside(ExpandStep::Aborting, &what, events, |client| {
                        client.batch_execute(&statement)
                    })?;
            }
            let mut existing = Vec::new();
            for table in shaped_tables(&state.change).into_iter().chain(
                state
                    .change
                    .ops
                    .iter()
                    .filter_map(|op| op.table().map(str::to_owned)),
            ) {
                let found = catalog::columns(self.ddl.client, &base, &table).map_err(|e| {
                    self.ddl
                        .failed(ExpandStep::Aborting, "read the catalog", &e)
                })?;
                if found.is_some() && !existing.contains(&table) {
                    existing.push(table);
                }
            }
            sql.extend(abort::undo(&state.change, &base, &existing));
            dropped = abort::dropped(&state.change, &existing);
        }
        let version = state.version;
        self.end(ExpandStep::Aborting, "abort", &sql, events, |tx| {
            history::delete(tx, version)
        })?;
        Ok(Finished {
            dropped,
            ..self.finished(state, schemas)
        })
    }

    /// Records `step` as under way (unless it is already): from here on
    /// the expansion only goes that way, and a crash resumes it.
    fn enter(
        &mut self,
        state: &State,
        step: ExpandStep,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        if state.step == step {
            return Ok(());
        }
        let base = self.options.base_schema.clone();
        self.ddl.tx(step, "record the step", events, |tx| {
            state::set_step(tx, &base, step)
        })
    }

    /// The last transaction of a contract or an abort: `sql`, then the
    /// history row (`history`), then the state table goes. All or nothing,
    /// so a crash before it commits runs it again whole.
    fn end(
        &mut self,
        step: ExpandStep,
        what: &str,
        sql: &[String],
        events: &mut dyn FnMut(ExpandEvent<'_>),
        history: impl Fn(&mut Transaction<'_>) -> Result<(), postgres::Error>,
    ) -> Result<(), DbError> {
        let base = self.options.base_schema.clone();
        self.ddl.tx(step, what, events, |tx| {
            for statement in sql {
                tx.batch_execute(statement)?;
            }
            history(tx)?;
            state::drop_table(tx, &base)
        })
    }

    /// What ended, with nothing dropped or renamed (an abort's).
    fn finished(&self, state: &State, dropped_schemas: Vec<String>) -> Finished {
        Finished {
            version: state.version,
            name: state.name.clone(),
            dropped_schemas,
            dropped: Vec::new(),
            renamed: Vec::new(),
            retries: self.ddl.retried,
        }
    }
}
