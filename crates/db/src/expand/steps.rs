//! The expansion's steps, in order, each recorded with its work so that
//! running again resumes at the first step not committed.

use super::backfill::{self, Batch};
use super::carry::{self, Carried};
use super::catalog;
use super::columns;
use super::constraints;
use super::ddl::Ddl;
use super::faults;
use super::names::view_schema;
use super::shape::{self, TableShape};
use super::spec::Change;
use super::state::{self, State};
use super::triggers;
use super::types::{ExpandEvent, ExpandOptions, ExpandStep};
use super::views;
use crate::DbError;
use std::collections::BTreeMap;
use std::time::Duration;

/// One call's work on one expansion.
pub(crate) struct Run<'c> {
    /// The connection.
    pub ddl: Ddl<'c>,
    /// Settings.
    pub options: ExpandOptions,
    /// The longest backfill batch.
    pub longest: Duration,
}

impl Run<'_> {
    fn base(&self) -> String {
        self.options.base_schema.clone()
    }

    /// Runs the steps from `state.step` to [`ExpandStep::Expanded`].
    pub fn expand(
        &mut self,
        state: &mut State,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        loop {
            let step = state.step;
            if step == ExpandStep::Expanded {
                return Ok(());
            }
            events(ExpandEvent::Step(step));
            let next = match self.step(state, step, events) {
                Ok(next) => next,
                Err(error) => {
                    self.record_failure(state, &error, events);
                    return Err(error);
                }
            };
            if state.failed.is_some() {
                let base = self.base();
                self.ddl.tx(next, "clear the failure", events, |tx| {
                    state::set_failed(tx, &base, None)
                })?;
                state.failed = None;
            }
            state.step = next;
        }
    }

    /// Runs `step`; returns the step after it.
    fn step(
        &mut self,
        state: &mut State,
        step: ExpandStep,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<ExpandStep, DbError> {
        Ok(match step {
            ExpandStep::Begin | ExpandStep::Columns => {
                self.columns(&state.change, events)?;
                ExpandStep::Triggers
            }
            ExpandStep::Triggers => {
                self.triggers(state, events)?;
                ExpandStep::Backfill
            }
            ExpandStep::Backfill => {
                self.backfill(state, events)?;
                self.record(ExpandStep::Constraints, events)?;
                ExpandStep::Constraints
            }
            ExpandStep::Constraints => {
                self.constraints(&state.change, events)?;
                self.record(ExpandStep::Views, events)?;
                ExpandStep::Views
            }
            ExpandStep::Views => {
                self.views(state, &state.new_releases.clone(), events)?;
                ExpandStep::Expanded
            }
            ExpandStep::Expanded | ExpandStep::Completing | ExpandStep::Aborting => {
                unreachable!("checked by the caller")
            }
        })
    }

    /// Records in the state why `error` stopped the expansion, so status
    /// says it failed (and complete refuses it). Best effort: the
    /// connection may be what failed, and `error` is what to report.
    fn record_failure(
        &mut self,
        state: &mut State,
        error: &DbError,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) {
        let failed = match error {
            DbError::ExpandFailed {
                step,
                what,
                message,
                ..
            } => format!("step `{step}` ({what}): {message}"),
            other => other.to_string(),
        };
        let base = self.base();
        let recorded = self.ddl.tx(state.step, "record the failure", events, |tx| {
            state::set_failed(tx, &base, Some(&failed))
        });
        if recorded.is_ok() {
            state.failed = Some(failed);
        }
    }

    /// Records `step` as the next one, on its own.
    fn record(
        &mut self,
        step: ExpandStep,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.base();
        self.ddl.tx(step, "record the step", events, |tx| {
            state::set_step(tx, &base, step)
        })
    }

    /// Both shapes of every table the change reshapes, from the catalog.
    pub fn shapes(
        &mut self,
        change: &Change,
        step: ExpandStep,
    ) -> Result<Vec<TableShape>, DbError> {
        let base = self.base();
        let mut columns = BTreeMap::new();
        for table in shape::shaped_tables(change) {
            let found = catalog::columns(self.ddl.client, &base, &table)
                .map_err(|e| self.ddl.failed(step, "read the catalog", &e))?;
            if let Some(found) = found {
                columns.insert(table, found);
            }
        }
        shape::build(change, &columns).map_err(|problem| DbError::ExpandInvalid {
            database: self.ddl.database.clone(),
            migration: self.ddl.migration.clone(),
            problem,
        })
    }

    /// The indexes of replaced columns to build again over the hidden
    /// ones, and what cannot be kept (`carry.rs`), from the catalog.
    pub fn carried(
        &mut self,
        change: &Change,
        step: ExpandStep,
    ) -> Result<(Vec<Carried>, Vec<String>), DbError> {
        let base = self.base();
        let (mut carried, mut refused) = (Vec::new(), Vec::new());
        for table in shape::shaped_tables(change) {
            let client = &mut *self.ddl.client;
            let read = catalog::indexes(client, &base, &table)
                .and_then(|indexes| Ok((indexes, catalog::constraints(client, &base, &table)?)));
            let (indexes, constraints) = read.map_err(|e| {
                self.ddl
                    .failed(step, "read the indexes and constraints", &e)
            })?;
            let (c, r) = carry::plan(change, &table, &indexes, &constraints);
            carried.extend(c);
            refused.extend(r);
        }
        Ok((carried, refused))
    }

    /// Builds an index `CONCURRENTLY` (writes go on), unless it is there
    /// and valid: a build that failed or was cut off leaves an INVALID
    /// index, which is dropped and built again.
    fn build_index(
        &mut self,
        name: &str,
        sql: &str,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.base();
        let what = format!("create index `{name}`");
        self.ddl
            .outside(ExpandStep::Constraints, &what, events, |client| {
                match catalog::index_valid(client, &base, name)? {
                    Some(true) => return Ok(()),
                    Some(false) => client.batch_execute(&format!(
                        "DROP INDEX CONCURRENTLY IF EXISTS {}",
                        super::sqltext::qualified(&base, name)
                    ))?,
                    None => {}
                }
                client.batch_execute(sql)
            })
    }

    fn columns(
        &mut self,
        change: &Change,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.base();
        let mut existing = BTreeMap::new();
        for table in change.ops.iter().filter_map(|op| op.table()) {
            let found = catalog::columns(self.ddl.client, &base, table)
                .map_err(|e| self.ddl.failed(ExpandStep::Columns, "read the catalog", &e))?;
            if let Some(found) = found {
                existing.insert(table.to_owned(), found);
            }
        }
        let statements = columns::statements(change, &base, &existing);
        self.ddl
            .tx(ExpandStep::Columns, "add the new columns", events, |tx| {
                for (_, sql) in &statements {
                    tx.batch_execute(sql)?;
                }
                state::set_step(tx, &base, ExpandStep::Triggers)
            })
    }

    fn triggers(
        &mut self,
        state: &State,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.base();
        let shapes = self.shapes(&state.change, ExpandStep::Triggers)?;
        let schemas: Vec<String> = state.new_releases.iter().map(|r| view_schema(r)).collect();
        let mut sql = vec![faults::create_sql(&base)];
        for shape in shapes.iter().filter(|s| s.synced()) {
            let key = self.primary_key(ExpandStep::Triggers, &shape.table)?;
            sql.push(triggers::function_sql(shape, &base, &schemas, &key));
            sql.push(triggers::trigger_sql(shape, &base));
        }
        // After the triggers: from now on they fill what the checks ask for.
        sql.extend(
            constraints::not_valid(&state.change, &base)
                .into_iter()
                .map(|(_, sql)| sql),
        );
        self.ddl
            .tx(ExpandStep::Triggers, "install the triggers", events, |tx| {
                for statement in &sql {
                    tx.batch_execute(statement)?;
                }
                state::set_step(tx, &base, ExpandStep::Backfill)
            })
    }

    /// The primary key of `table` (each column and its type), which a
    /// backfill walks: refused when it has none (checked at begin, and
    /// again at the backfill in case it was dropped since).
    pub(super) fn primary_key(
        &mut self,
        step: ExpandStep,
        table: &str,
    ) -> Result<Vec<(String, String)>, DbError> {
        let base = self.base();
        let key = catalog::primary_key(self.ddl.client, &base, table)
            .map_err(|e| self.ddl.failed(step, "read the primary key", &e))?;
        if key.is_empty() {
            return Err(DbError::NoPrimaryKey {
                database: self.ddl.database.clone(),
                migration: self.ddl.migration.clone(),
                table: table.to_owned(),
            });
        }
        Ok(key)
    }

    fn backfill(
        &mut self,
        state: &mut State,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.base();
        let shapes = self.shapes(&state.change, ExpandStep::Backfill)?;
        let mut batches = Vec::new();
        for shape in backfill::batches(&shapes) {
            let key = self.primary_key(ExpandStep::Backfill, &shape.table)?;
            batches.push(Batch {
                table: shape.table.clone(),
                key,
                sets: shape.backfill.clone(),
            });
        }
        let settings = backfill::Settings {
            base: &base,
            rows: self.options.batch_rows.max(1),
            pause: self.options.batch_pause,
        };
        let longest = backfill::run(
            &mut self.ddl,
            &batches,
            &mut state.backfill,
            &settings,
            events,
        )?;
        self.longest = self.longest.max(longest);
        Ok(())
    }

    fn constraints(
        &mut self,
        change: &Change,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.base();
        for (what, sql) in constraints::validate(change, &base) {
            // Validating a valid constraint is a no-op: safe to repeat.
            self.ddl.tx(ExpandStep::Constraints, &what, events, |tx| {
                tx.batch_execute(&sql)
            })?;
        }
        for (name, sql) in constraints::indexes(change, &base) {
            self.build_index(&name, &sql, events)?;
        }
        // The indexes contract would drop with a replaced column, built
        // again over the hidden one (what cannot be was refused at begin).
        let (carried, _) = self.carried(change, ExpandStep::Constraints)?;
        for index in carried {
            self.build_index(&index.name, &index.create_sql(&base), events)?;
        }
        Ok(())
    }

    /// Makes the view schemas of `releases` and re-creates the trigger
    /// functions so they know every new-side schema (`state.new_releases`).
    pub fn views(
        &mut self,
        state: &State,
        releases: &[String],
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.base();
        let ours = catalog::view_schemas(self.ddl.client).map_err(|e| {
            self.ddl
                .failed(ExpandStep::Views, "read the view schemas", &e)
        })?;
        for release in releases {
            let schema = view_schema(release);
            let exists = catalog::schema_exists(self.ddl.client, &schema)
                .map_err(|e| self.ddl.failed(ExpandStep::Views, "read the schemas", &e))?;
            // Contract drops view schemas with CASCADE: never adopt one
            // hoist did not make.
            if exists && !ours.iter().any(|(name, _)| *name == schema) {
                return Err(DbError::ExpandInvalid {
                    database: self.ddl.database.clone(),
                    migration: self.ddl.migration.clone(),
                    problem: format!("schema `{schema}` (release `{release}`'s view schema) exists and hoist did not make it; rename or drop it, then run the same command again to resume"),
                });
            }
        }
        let shapes = self.shapes(&state.change, ExpandStep::Views)?;
        let mut with_grants = Vec::new();
        for shape in &shapes {
            let grants = catalog::grants(self.ddl.client, &base, &shape.table)
                .map_err(|e| self.ddl.failed(ExpandStep::Views, "read the grants", &e))?;
            with_grants.push((shape, grants));
        }
        let mut sql = Vec::new();
        for release in releases {
            sql.extend(views::schema_sql(
                &view_schema(release),
                release,
                &base,
                &with_grants,
            ));
        }
        let schemas: Vec<String> = state.new_releases.iter().map(|r| view_schema(r)).collect();
        sql.push(faults::create_sql(&base));
        for shape in shapes.iter().filter(|s| s.synced()) {
            let key = self.primary_key(ExpandStep::Views, &shape.table)?;
            sql.push(triggers::function_sql(shape, &base, &schemas, &key));
        }
        let everyone = state.new_releases.clone();
        self.ddl
            .tx(ExpandStep::Views, "create the view schemas", events, |tx| {
                for statement in &sql {
                    tx.batch_execute(statement)?;
                }
                state::set_releases(tx, &base, &everyone)?;
                state::set_step(tx, &base, ExpandStep::Expanded)
            })
    }
}
