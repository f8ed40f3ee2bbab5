//! Before contract: every value the new shape keeps must have been
//! computed. Rows the trigger could not compute (`faults.rs`) are
//! computed again, now that nothing on the old side writes; a hidden
//! column that becomes NOT NULL must hold no NULL. Contract is refused,
//! naming the rows, while either is not so, and nothing has changed then:
//! the expansion stays open and both releases keep working.

use super::constraints;
use super::faults::{self, Fault, NAMED};
use super::shape::TableShape;
use super::sqltext::{literal, qualified, quote};
use super::steps::Run;
use super::types::{ExpandEvent, ExpandStep};
use crate::DbError;

const STEP: ExpandStep = ExpandStep::Completing;

impl Run<'_> {
    /// Refuses contract while a value is missing; then adds and validates
    /// the checks that let contract's `SET NOT NULL` skip its scan.
    pub(super) fn settle(
        &mut self,
        shapes: &[TableShape],
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.options.base_schema.clone();
        // An expansion an older hoist opened has no fault table yet.
        self.ddl
            .tx(STEP, "record rows it cannot compute", events, |tx| {
                tx.batch_execute(&faults::create_sql(&base))
            })?;
        let mut missing = self.repair(shapes)?;
        let mut count = missing.len();
        let (nulls, described) = self.nulls(shapes)?;
        count += nulls;
        missing.extend(described);
        if count > 0 {
            return Err(DbError::ExpandFaults {
                database: self.ddl.database.clone(),
                migration: self.ddl.migration.clone(),
                count,
                sample: missing.into_iter().take(NAMED).collect(),
            });
        }
        for (what, add, validate) in constraints::not_null(shapes, &base) {
            self.ddl
                .tx(STEP, &what, events, |tx| tx.batch_execute(&add))?;
            // A scan that lets writes go on (SHARE UPDATE EXCLUSIVE).
            self.ddl
                .tx(STEP, &what, events, |tx| tx.batch_execute(&validate))?;
        }
        Ok(())
    }

    /// Computes every row the old side wrote and the trigger could not
    /// compute again; what still fails, described.
    fn repair(&mut self, shapes: &[TableShape]) -> Result<Vec<String>, DbError> {
        let base = self.options.base_schema.clone();
        let recorded = faults::all(self.ddl.client, &base).map_err(|e| {
            self.ddl
                .failed(STEP, "read the rows it could not compute", &e)
        })?;
        let mut failing = Vec::new();
        // A new-side fault is an old column's value (a `down`), and
        // contract drops the old columns: only the old side's count. And
        // only a column the trigger fills: anyone may call the recording
        // function, and contract runs as the migrator, so a record never
        // points it at another table.
        let ours = |fault: &Fault| {
            fault.side == "old"
                && shapes.iter().any(|shape| {
                    shape.table == fault.table
                        && shape.up.iter().any(|sync| sync.target == fault.target)
                })
        };
        for fault in recorded.into_iter().filter(ours) {
            let key = self.primary_key(STEP, &fault.table)?;
            let sql = faults::repair_sql(&base, &fault, &key);
            let attempt = (|| {
                let mut tx = self.ddl.client.transaction()?;
                tx.batch_execute(&sql[0])?;
                tx.execute(&sql[1], &[&fault.key])?;
                tx.execute(&sql[2], &[&fault.key])?;
                tx.commit()
            })();
            if let Err(error) = attempt {
                failing.push(
                    Fault {
                        error: super::ddl::message(&error),
                        ..fault
                    }
                    .describe(),
                );
            }
        }
        Ok(failing)
    }

    /// Rows whose hidden NOT NULL column is NULL (a `backfill` that gave
    /// NULL) and not named already (a row contract could not compute
    /// again): how many, and the first few described.
    fn nulls(&mut self, shapes: &[TableShape]) -> Result<(usize, Vec<String>), DbError> {
        let base = self.options.base_schema.clone();
        let (mut count, mut found) = (0, Vec::new());
        for shape in shapes.iter().filter(|s| !s.not_null.is_empty()) {
            let key = self.primary_key(STEP, &shape.table)?;
            let pairs: Vec<String> = key
                .iter()
                .map(|(column, _)| format!("{}, t.{}", literal(column), quote(column)))
                .collect();
            for not_null in &shape.not_null {
                let sql = format!(
                    "SELECT jsonb_build_object({pairs})::text, count(*) OVER () FROM {} t WHERE {} IS NULL AND NOT EXISTS (SELECT 1 FROM {} f WHERE f.table_name = {} AND f.target = {} AND f.key = jsonb_build_object({pairs})) LIMIT {NAMED}",
                    qualified(&base, &shape.table),
                    quote(&not_null.column),
                    qualified(&base, faults::FAULT_TABLE),
                    literal(&shape.table),
                    literal(&not_null.column),
                    pairs = pairs.join(", "),
                );
                let rows = self
                    .ddl
                    .client
                    .query(&sql, &[])
                    .map_err(|e| self.ddl.failed(STEP, "look for NULLs", &e))?;
                if let Some(first) = rows.first() {
                    count += first.get::<_, i64>(1) as usize;
                }
                for row in rows {
                    let key: String = row.get(0);
                    let name = not_null
                        .column
                        .strip_prefix(super::names::HIDDEN_PREFIX)
                        .unwrap_or(&not_null.column);
                    found.push(format!(
                        "`{}` row {key}: the new `{name}` is NULL and becomes NOT NULL",
                        shape.table
                    ));
                }
            }
        }
        Ok((count, found))
    }
}
