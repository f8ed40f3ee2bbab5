//! What begin asks PostgreSQL itself before anything is recorded: that
//! every `sql_type` names a type. A change that passes has nothing in it
//! that fails the moment it reaches the DDL.

use super::spec::{Change, Op};
use super::steps::Run;
use super::types::ExpandStep;
use crate::DbError;

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

impl Run<'_> {
    /// Refuses a `sql_type` PostgreSQL does not take as a type. Prepared,
    /// never run: a prepared statement holds one command, so nothing
    /// rides along (the text was checked for `;` and comments at parse).
    pub(super) fn verify_types(&mut self, change: &Change) -> Result<(), DbError> {
        for (at, kind, key, sql_type) in sql_types(change) {
            let sql = format!("SELECT NULL::{sql_type}");
            if let Err(error) = self.ddl.client.prepare(&sql) {
                if error.as_db_error().is_none() {
                    return Err(self
                        .ddl
                        .failed(ExpandStep::Begin, "check the types", &error));
                }
                return Err(DbError::ExpandInvalid {
                    database: self.ddl.database.clone(),
                    migration: self.ddl.migration.clone(),
                    problem: format!(
                        "op {at} ({kind}): `{key}` `{sql_type}` is not a type PostgreSQL knows ({}); fix the type, or create it in an earlier migration",
                        super::ddl::message(&error)
                    ),
                });
            }
        }
        Ok(())
    }
}
