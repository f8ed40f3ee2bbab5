//! Before contract: every value the new shape keeps must have been
//! computed. Rows the trigger could not compute (`faults.rs`) are
//! computed again, now that nothing on the old side writes; a hidden
//! column that becomes NOT NULL must hold no NULL. Contract is refused,
//! naming the rows, while either is not so, and nothing has changed then:
//! the expansion stays open and both releases keep working.

use super::constraints;
use super::ddl::retryable;
use super::faults::{self, Fault, Side, NAMED};
use super::shape::TableShape;
use super::sqltext::{literal, qualified, quote};
use super::steps::Run;
use super::types::{ExpandEvent, ExpandStep};
use crate::DbError;

const STEP: ExpandStep = ExpandStep::Completing;

impl Run<'_> {
    /// Refuses contract while a value is missing. Changes nothing but the
    /// records of rows it computed again, so a refusal leaves the
    /// expansion open and both shapes served as they were.
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
        Ok(())
    }

    /// Adds the checks that let contract's `SET NOT NULL` skip its scan
    /// (with `then`, the step it records, in the same transaction), then
    /// validates them: a scan that lets writes go on. Only once contract
    /// is under way: during the expansion a CHECK would fail an old-side
    /// write whose value the trigger could not compute.
    pub(super) fn not_null_checks(
        &mut self,
        shapes: &[TableShape],
        then: impl Fn(&mut postgres::Transaction<'_>) -> Result<(), postgres::Error>,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<(), DbError> {
        let base = self.options.base_schema.clone();
        let checks = constraints::not_null(shapes, &base);
        self.ddl.tx(STEP, "add the NOT NULL checks", events, |tx| {
            for (_, add, _) in &checks {
                tx.batch_execute(add)?;
            }
            then(tx)
        })?;
        for (what, _, validate) in &checks {
            self.ddl
                .tx(STEP, what, events, |tx| tx.batch_execute(validate))?;
        }
        Ok(())
    }

    /// Computes again every row the old side wrote that the trigger could
    /// not compute, unless a later write settled it; what still fails,
    /// described.
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
            fault.side == Side::Old.as_str()
                && shapes.iter().any(|shape| {
                    shape.table == fault.table
                        && shape.up.iter().any(|sync| sync.target == fault.target)
                })
        };
        for fault in recorded.into_iter().filter(ours) {
            let key = self.primary_key(STEP, &fault.table)?;
            if let Some(error) = self.repair_one(&base, &fault, &key)? {
                failing.push(Fault { error, ..fault }.describe());
            }
        }
        Ok(failing)
    }

    /// One record: `Some` is why its row still fails.
    fn repair_one(
        &mut self,
        base: &str,
        fault: &Fault,
        key: &[(String, String)],
    ) -> Result<Option<String>, DbError> {
        let forget = faults::forget_sql(base, fault);
        let client = &mut *self.ddl.client;
        // A key that is not this table's (a forged record) or a row gone:
        // nothing to compute.
        let now = match client.query_opt(&faults::now_sql(base, fault, key), &[&fault.key]) {
            Ok(Some(row)) => Some(row.get::<_, Option<String>>(0)),
            Ok(None) => None,
            Err(error) if error.as_db_error().is_some() && !retryable(&error) => None,
            Err(error) => {
                return Err(self
                    .ddl
                    .failed(STEP, "read a row it could not compute", &error))
            }
        };
        // Changed since it was recorded: a later write computed it, or the
        // new release wrote it, and computing it from the old columns
        // again would overwrite that.
        let settled = now.as_ref().is_none_or(|value| *value != fault.value);
        let [side, update] = faults::repair_sql(base, fault, key);
        let attempt = (|| {
            let mut tx = client.transaction()?;
            if !settled {
                tx.batch_execute(&side)?;
                tx.execute(&update, &[&fault.key])?;
            }
            tx.execute(&forget, &[&fault.key])?;
            tx.commit()
        })();
        match attempt {
            Ok(()) => Ok(None),
            // The expression's own error: the row still fails.
            Err(error) if error.as_db_error().is_some() && !retryable(&error) => {
                Ok(Some(super::ddl::message(&error)))
            }
            // A lock not granted in time, a lost connection: not the row's.
            Err(error) => Err(self.ddl.failed(STEP, "compute a row again", &error)),
        }
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
                    let name = super::names::shown(&not_null.column).unwrap_or(&not_null.column);
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
