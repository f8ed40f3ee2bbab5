//! What a rollback's target predates, seen through expand and contract.
//!
//! - An **open** expansion is no schema the target predates: the base
//!   tables keep the old shape until contract, so the rollback is a route
//!   swap (`--with-db` removes the expansion after it, no down runs).
//! - A **contracted** one took the old shape away: the target would fail
//!   on the new one. Refused, naming the migration and the operations of
//!   a new migration that would restore the old shape; `--force` switches
//!   anyway.
//! - Anything else is a classic migration, as before.

use crate::schema::Schema;
use crate::{DeployError, Reporter};
use hoist_db::expand::{Change, Op};
use hoist_db::Applied;

/// The applied migrations a target predates, by kind.
#[derive(Debug, Default)]
pub(crate) struct Sorted {
    /// Classic migrations (downs can undo them).
    pub(crate) classic: Vec<Applied>,
    /// The open expansion the target predates (`0005_rename_name`).
    pub(crate) open: Option<String>,
    /// Contracted declarative migrations, with their change when the
    /// newer release still has the file.
    pub(crate) contracted: Vec<(Applied, Option<Change>)>,
}

/// Sorts `predates` (applied, unknown to the target): reads the open
/// expansion only when there is something to sort.
pub(crate) fn sort(
    target: Option<&Schema>,
    newer: Option<&Schema>,
    predates: Vec<Applied>,
) -> Result<Sorted, DeployError> {
    let mut sorted = Sorted::default();
    let Some(target) = target.filter(|_| !predates.is_empty()) else {
        sorted.classic = predates;
        return Ok(sorted);
    };
    let open = crate::engine::status(target)?.and_then(|status| status.open);
    let newer_files = match newer {
        Some(newer) => newer.migrations()?,
        None => Vec::new(),
    };
    for row in predates {
        if open
            .as_ref()
            .is_some_and(|open| open.version == row.version)
        {
            sorted.open = Some(row.name.clone());
            continue;
        }
        let file = newer_files.iter().find(|m| m.version == row.version);
        let declarative = file.is_some_and(|m| m.is_declarative())
            || matches!(row.phase.as_str(), "expand" | "contract");
        if declarative {
            let change = file.and_then(|m| m.change.clone());
            sorted.contracted.push((row, change));
        } else {
            sorted.classic.push(row);
        }
    }
    Ok(sorted)
}

impl Sorted {
    /// The refusal of a rollback onto a contracted shape; with `force`,
    /// a warning instead. Names every contracted migration the target
    /// predates, oldest first, each with the ops that would undo it: a
    /// restore of only the newest would leave the older ones' shape.
    pub(crate) fn refuse(
        &self,
        target: &str,
        force: bool,
        reporter: &dyn Reporter,
    ) -> Option<DeployError> {
        if self.contracted.is_empty() {
            return None;
        }
        let mut contracted: Vec<&(Applied, Option<Change>)> = self.contracted.iter().collect();
        contracted.sort_by_key(|(row, _)| row.version);
        let restores: Vec<Restore> = contracted
            .into_iter()
            .map(|(row, change)| Restore {
                migration: row.name.clone(),
                ops: change.as_ref().map_or_else(
                    || vec![format!("a migration undoing `{}`", row.name)],
                    restore_ops,
                ),
            })
            .collect();
        if force {
            reporter.warn(&format!(
                "`{target}` predates {}, which {} contracted; switching anyway (`--force`): its code meets a shape it does not know until a migration restores the old one ({})",
                Restore::names(&restores),
                Restore::were(&restores),
                Restore::ops(&restores)
            ));
            return None;
        }
        Some(DeployError::ContractedPredated {
            target: target.to_owned(),
            restores,
        })
    }
}

/// A contracted migration a rollback target predates, and the ops of a
/// new migration that would put back the shape it took away.
#[derive(Debug, Clone)]
pub struct Restore {
    /// The contracted migration (`0005_rename_name`).
    pub migration: String,
    /// Its reverse, last op first (`rename_column users.full_name -> name`).
    pub ops: Vec<String>,
}

impl Restore {
    /// `` `0005_rename` ``, `` `0005_rename` and `0006_plan` ``, oldest first.
    pub(crate) fn names(restores: &[Restore]) -> String {
        let named: Vec<String> = restores
            .iter()
            .map(|restore| format!("`{}`", restore.migration))
            .collect();
        match named.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => named.concat(),
        }
    }

    /// "were" or "was", for [`Restore::names`].
    pub(crate) fn were(restores: &[Restore]) -> &'static str {
        match restores.len() {
            1 => "was",
            _ => "were",
        }
    }

    /// The ops that put the old shape back: one migration's alone
    /// (`rename_column users.full_name -> name`), several each after its
    /// name, newest first, the order they undo in (`` `0006_plan`:
    /// drop_column users.plan; `0005_rename`: rename_column ... ``): two
    /// migrations on one column undo only that way round.
    pub(crate) fn ops(restores: &[Restore]) -> String {
        match restores {
            [one] => one.ops.join("; "),
            _ => restores
                .iter()
                .rev()
                .map(|restore| format!("`{}`: {}", restore.migration, restore.ops.join("; ")))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// The operations of a new declarative migration that would put back the
/// shape `change` contracted away, last operation first.
pub(crate) fn restore_ops(change: &Change) -> Vec<String> {
    change.ops.iter().rev().map(restore_op).collect()
}

fn restore_op(op: &Op) -> String {
    match op {
        Op::AddColumn { table, column, .. } => format!("drop_column {table}.{column}"),
        Op::RenameColumn { table, from, to } => {
            format!("rename_column {table}.{to} -> {from}")
        }
        Op::ChangeType {
            table,
            column,
            down,
            ..
        } => format!("change_type {table}.{column} back, up = `{down}`"),
        Op::SplitColumn {
            table,
            column,
            into,
            down,
        } => {
            let parts: Vec<&str> = into.iter().map(|part| part.name.as_str()).collect();
            format!(
                "merge_columns {table}.{} -> {column}, up = `{down}`",
                parts.join(", ")
            )
        }
        Op::MergeColumns {
            table,
            columns,
            into,
            ..
        } => format!(
            "split_column {table}.{} -> {}",
            into.name,
            columns.join(", ")
        ),
        Op::AddConstraint { table, name, .. } => {
            format!("sql `ALTER TABLE {table} DROP CONSTRAINT {name}`")
        }
        // Not an `sql` op: its `up` runs in the expansion's transaction,
        // where PostgreSQL refuses CONCURRENTLY.
        Op::CreateIndex { name, .. } => format!(
            "`DROP INDEX CONCURRENTLY {name}` in an `.up.sql` marked `-- hoist: no-transaction`"
        ),
        Op::DropColumn {
            table,
            column,
            down,
        } => match down {
            Some(down) => format!("add_column {table}.{column}, backfill = `{down}`"),
            None => format!("add_column {table}.{column}"),
        },
        Op::DropTable { table } => format!("sql `CREATE TABLE {table} (...)` as it was"),
        Op::Sql {
            down: Some(down), ..
        } => format!("sql `{}`", down.trim()),
        Op::Sql { up, .. } => format!("sql undoing `{}`", up.trim()),
    }
}

/// The first `sql` op (1-based) of `migration` with no `down`: an abort
/// cannot undo it, so nothing can remove its expansion.
pub(crate) fn missing_down(migration: &hoist_db::Migration) -> Option<usize> {
    migration.change.as_ref().and_then(|change| {
        change
            .ops
            .iter()
            .position(|op| matches!(op, hoist_db::expand::Op::Sql { down: None, .. }))
            .map(|at| at + 1)
    })
}

/// `rollback --with-db` of an expansion no abort can remove (an `sql` op
/// without `down`, in the newer release's file): refused before anything
/// moves, naming the op and the commands that do work, rather than
/// swapping the route and then failing half-way.
pub(crate) fn refuse_unabortable(
    newer: Option<&Schema>,
    open: Option<&str>,
    target: &str,
) -> Option<DeployError> {
    let open = open?;
    let migrations = newer?.migrations().ok()?;
    let migration = migrations.iter().find(|m| m.name == open)?;
    let op = missing_down(migration)?;
    Some(DeployError::CannotAbort {
        open: open.to_owned(),
        op,
        target: target.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_is_restored_by_the_reverse_rename() {
        let change = Change::parse(
            "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n",
        )
        .unwrap();
        assert_eq!(
            restore_ops(&change),
            ["rename_column users.full_name -> name"]
        );
    }

    // The advice to undo a contracted create_index was an `sql` op with
    // `DROP INDEX CONCURRENTLY`, which PostgreSQL refuses there: an `sql`
    // op's `up` runs inside the expansion's transaction.
    #[test]
    fn restoring_an_index_advised_drop_concurrently_inside_a_transaction() {
        let change = Change::parse(
            "[[op]]\ntype = \"create_index\"\ntable = \"users\"\nname = \"users_email_idx\"\ncolumns = [\"email\"]\n",
        )
        .unwrap();
        let advice = restore_ops(&change).join("; ");
        assert!(
            !advice.starts_with("sql `DROP INDEX CONCURRENTLY"),
            "an `sql` op runs in a transaction: {advice}"
        );
        assert!(
            advice.contains("DROP INDEX CONCURRENTLY users_email_idx")
                && advice.contains("-- hoist: no-transaction"),
            "{advice}"
        );
    }
}
