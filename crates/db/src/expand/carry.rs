//! What contract would drop with a replaced column, and how the
//! expansion keeps it.
//!
//! Contract drops the column `change_type`, `split_column` and
//! `merge_columns` replace, and PostgreSQL's `DROP COLUMN` takes every
//! index and constraint that reads it along, silently: the site would
//! lose its index (and its query plans) at contract. So:
//!
//! - an index over a `change_type` column is built again over the hidden
//!   column (`CONCURRENTLY`, in the constraints step, named
//!   `_hoist_ix_<index>`) and renamed into the old one's name at contract;
//!   a unique constraint's index becomes that constraint again;
//! - what hoist cannot rebuild is refused at begin, named: an index over
//!   a split or merged column (which new column does it belong on?), an
//!   exclusion constraint, a CHECK or a foreign key (what it means for
//!   the new column is the author's call). A `create_index` or
//!   `add_constraint` op over the new column(s) states it, and then the old
//!   one goes at contract as planned. What reads a `drop_column` column
//!   goes with it: that is what the op asks.

use super::catalog::{Constraint, Index};
use super::names::{hidden_column, internal_name};
use super::spec::{Change, Op};
use super::sqltext::{keyword_at, names, qualified, quote, rename_columns, type_words};
use std::collections::BTreeMap;

/// The prefix of an index built to replace one contract drops.
pub(crate) const CARRIED_PREFIX: &str = "_hoist_ix_";

/// An index built again over the hidden columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Carried {
    /// The table.
    pub table: String,
    /// The index it replaces.
    pub old: String,
    /// Its own name until contract (`_hoist_ix_<old>`).
    pub name: String,
    /// `UNIQUE `, or empty.
    pub unique: &'static str,
    /// Its definition from `USING` on, naming the hidden columns.
    pub rest: String,
    /// The constraint it backs: (name, `DEFERRABLE ...` or empty).
    pub constraint: Option<(String, String)>,
}

impl Carried {
    /// `CREATE INDEX CONCURRENTLY` of it.
    pub fn create_sql(&self, base: &str) -> String {
        format!(
            "CREATE {}INDEX CONCURRENTLY {} ON {} {}",
            self.unique,
            quote(&self.name),
            qualified(base, &self.table),
            self.rest
        )
    }

    /// At contract, after the old index went with its column: takes the
    /// old index's name (or becomes the old constraint again).
    pub fn place_sql(&self, base: &str) -> String {
        match &self.constraint {
            Some((constraint, deferrable)) => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {} {deferrable}",
                qualified(base, &self.table),
                quote(constraint),
                quote(&self.name)
            )
            .trim_end()
            .to_owned(),
            None => format!(
                "ALTER INDEX {} RENAME TO {}",
                qualified(base, &self.name),
                quote(&self.old)
            ),
        }
    }

    /// `DROP INDEX CONCURRENTLY` of it (abort).
    pub fn drop_sql(&self, base: &str) -> String {
        format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            qualified(base, &self.name)
        )
    }
}

/// How an op replaces a column of the table.
enum Replaced<'a> {
    /// `change_type`: the same column, a new type, in `hidden`.
    Retyped { hidden: String },
    /// `split_column` / `merge_columns`: other columns take its value.
    Reshaped {
        kind: &'static str,
        new: Vec<&'a str>,
    },
}

fn replaced<'a>(change: &'a Change, table: &str) -> BTreeMap<&'a str, Replaced<'a>> {
    let mut out = BTreeMap::new();
    for op in change.ops.iter().filter(|op| op.table() == Some(table)) {
        match op {
            Op::ChangeType { column, .. } => {
                out.insert(
                    column.as_str(),
                    Replaced::Retyped {
                        hidden: hidden_column(column),
                    },
                );
            }
            Op::SplitColumn { column, into, .. } => {
                let new = into.iter().map(|c| c.name.as_str()).collect();
                out.insert(
                    column.as_str(),
                    Replaced::Reshaped {
                        kind: "split_column",
                        new,
                    },
                );
            }
            Op::MergeColumns { columns, into, .. } => {
                for column in columns {
                    let new = vec![into.name.as_str()];
                    out.insert(
                        column.as_str(),
                        Replaced::Reshaped {
                            kind: "merge_columns",
                            new,
                        },
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// The columns `drop_column` ops of `table` drop.
fn dropped<'a>(change: &'a Change, table: &str) -> Vec<&'a str> {
    change
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::DropColumn {
                table: t, column, ..
            } if t == table => Some(column.as_str()),
            _ => None,
        })
        .collect()
}

/// Whether a `create_index` op of `table` over one of `new` replaces an
/// index (a unique one only by a unique op).
fn index_stated(change: &Change, table: &str, new: &[&str], unique: bool) -> bool {
    change.ops.iter().any(|op| match op {
        Op::CreateIndex {
            table: t,
            columns,
            unique: u,
            predicate,
            ..
        } if t == table && (*u || !unique) => columns
            .iter()
            .chain(predicate)
            .flat_map(|expr| names(expr))
            .any(|name| new.contains(&name.as_str())),
        _ => false,
    })
}

/// Whether an `add_constraint` op of `table` over one of `new` states a
/// rule again.
fn constraint_stated(change: &Change, table: &str, new: &[&str]) -> bool {
    change.ops.iter().any(|op| match op {
        Op::AddConstraint {
            table: t,
            check,
            foreign_key,
            ..
        } if t == table => {
            let mut read = check.as_deref().map(names).unwrap_or_default();
            if let Some(key) = foreign_key {
                read.extend(key.columns.iter().cloned());
            }
            read.iter().any(|name| new.contains(&name.as_str()))
        }
        _ => false,
    })
}

/// What `change` does with `table`'s indexes and constraints: the
/// indexes to build again, and a refusal for each thing it cannot keep.
pub(crate) fn plan(
    change: &Change,
    table: &str,
    indexes: &[Index],
    constraints: &[Constraint],
) -> (Vec<Carried>, Vec<String>) {
    let replaced = replaced(change, table);
    let dropped = dropped(change, table);
    let mut carried = Vec::new();
    let mut refused = Vec::new();
    // The columns of `read` the change replaces, unless one is dropped
    // (then what reads it goes, as `drop_column` asks).
    let hits = |read: &[String]| -> Vec<(String, &Replaced<'_>)> {
        if read.iter().any(|c| dropped.contains(&c.as_str())) {
            return Vec::new();
        }
        read.iter()
            .filter_map(|c| replaced.get(c.as_str()).map(|r| (c.clone(), r)))
            .collect()
    };
    let new_columns = |hits: &[(String, &Replaced<'_>)]| -> Vec<String> {
        let mut new = Vec::new();
        for (column, how) in hits {
            match how {
                Replaced::Retyped { .. } => new.push(column.clone()),
                Replaced::Reshaped { new: n, .. } => new.extend(n.iter().map(|c| c.to_string())),
            }
        }
        new
    };
    for index in indexes {
        if index.name.starts_with("_hoist_") || index.primary {
            continue;
        }
        let hits = hits(&index.columns);
        let Some((column, _)) = hits.first() else {
            continue;
        };
        let reshaped = hits.iter().find_map(|(c, how)| match how {
            Replaced::Reshaped { kind, .. } => Some((c, *kind)),
            Replaced::Retyped { .. } => None,
        });
        let new = new_columns(&hits);
        let new_refs: Vec<&str> = new.iter().map(String::as_str).collect();
        if let Some((column, kind)) = reshaped {
            if !index_stated(change, table, &new_refs, index.unique) {
                refused.push(format!(
                    "index `{}` reads `{table}.{column}`, which `{kind}` replaces, and contract would drop it with the column; hoist cannot tell which new column it belongs on: add a `create_index` op over {}{} to replace it, or drop the index in an earlier migration",
                    index.name,
                    listed(&new),
                    if index.unique { " with `unique = true`" } else { "" }
                ));
            }
            continue;
        }
        if let Some((name, kind, _)) = &index.constraint {
            if kind == "x" {
                refused.push(format!("exclusion constraint `{name}` reads `{table}.{column}`, which `change_type` replaces, and contract would drop it with the column; hoist cannot rebuild it: change the column with a classic migration, or drop the constraint in an earlier migration"));
                continue;
            }
        }
        let words = type_words(&index.definition);
        let unsafe_name = hits
            .iter()
            .map(|(c, _)| c)
            .find(|c| **c == index.method || index.other_names.contains(c) || words.contains(c));
        let at = keyword_at(&index.definition, "USING");
        let (Some(at), None) = (at, unsafe_name) else {
            refused.push(format!(
                "index `{}` reads `{table}.{column}`, which `change_type` replaces, and contract would drop it with the column; its definition (`{}`) names `{}` where it is not a column too, so hoist cannot rebuild it over the new column safely: drop the index in an earlier migration and add a `create_index` op for the new column",
                index.name,
                index.definition,
                unsafe_name.unwrap_or(column)
            ));
            continue;
        };
        let map: BTreeMap<String, String> = hits
            .iter()
            .filter_map(|(c, how)| match how {
                Replaced::Retyped { hidden } => Some((c.clone(), hidden.clone())),
                Replaced::Reshaped { .. } => None,
            })
            .collect();
        carried.push(Carried {
            table: table.to_owned(),
            old: index.name.clone(),
            name: internal_name(CARRIED_PREFIX, &index.name),
            unique: if index.unique { "UNIQUE " } else { "" },
            rest: rename_columns(&index.definition[at..], &map),
            constraint: index
                .constraint
                .as_ref()
                .map(|(name, _, deferrable)| (name.clone(), deferrable.clone())),
        });
    }
    for constraint in constraints {
        if constraint.name.starts_with("_hoist_") {
            continue;
        }
        let hits = hits(&constraint.columns);
        let Some((column, how)) = hits.first() else {
            continue;
        };
        let new = new_columns(&hits);
        let new_refs: Vec<&str> = new.iter().map(String::as_str).collect();
        if !constraint_stated(change, table, &new_refs) {
            let kind = match how {
                Replaced::Retyped { .. } => "change_type",
                Replaced::Reshaped { kind, .. } => kind,
            };
            refused.push(format!(
                "{} `{}` reads `{table}.{column}`, which `{kind}` replaces, and contract would drop it with the column; hoist cannot tell what it means for the new column: add an `add_constraint` op that states it over {}, or drop it in an earlier migration",
                constraint.kind,
                constraint.name,
                listed(&new)
            ));
        }
    }
    (carried, refused)
}

/// `` `a` `` or `` `a`, `b` ``.
fn listed(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statements that try each carried index on an empty copy of its
/// table (a temporary table, in a transaction rolled back): an index
/// that cannot be built over the new type is refused at begin, not
/// found at the constraints step. `sql_types`: (hidden column, its type).
pub(crate) fn probe_sql(
    base: &str,
    table: &str,
    sql_types: &[(String, String)],
    carried: &Carried,
) -> Vec<String> {
    let probe = qualified("pg_temp", "_hoist_probe");
    let mut sql = vec![format!(
        "CREATE TEMPORARY TABLE {probe} (LIKE {})",
        qualified(base, table)
    )];
    for (column, sql_type) in sql_types {
        sql.push(format!(
            "ALTER TABLE {probe} ADD COLUMN {} {sql_type}",
            quote(column)
        ));
    }
    sql.push(format!(
        "CREATE {}INDEX ON {probe} {}",
        carried.unique, carried.rest
    ));
    sql
}

#[cfg(test)]
mod tests {
    use super::super::shape::tests::change;
    use super::*;

    fn index(name: &str, definition: &str, columns: &[&str]) -> Index {
        Index {
            name: name.into(),
            definition: definition.into(),
            unique: definition.contains("UNIQUE"),
            primary: false,
            method: "btree".into(),
            other_names: Vec::new(),
            constraint: None,
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn a_retyped_columns_index_is_built_again_over_the_hidden_column() {
        let change = change("[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"name\"\nsql_type = \"varchar(200)\"\nup = \"name\"\ndown = \"name\"\n");
        let indexes = [
            index(
                "users_name",
                "CREATE INDEX users_name ON public.users USING btree (lower(name)) WHERE (name IS NOT NULL)",
                &["name"],
            ),
            index(
                "users_email",
                "CREATE INDEX users_email ON public.users USING btree (email)",
                &["email"],
            ),
        ];
        let (carried, refused) = plan(&change, "users", &indexes, &[]);
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(carried.len(), 1);
        assert_eq!(
            carried[0].create_sql("public"),
            "CREATE INDEX CONCURRENTLY \"_hoist_ix_users_name\" ON \"public\".\"users\" USING btree (lower(\"_hoist_new_name\")) WHERE (\"_hoist_new_name\" IS NOT NULL)"
        );
        assert_eq!(
            carried[0].place_sql("public"),
            "ALTER INDEX \"public\".\"_hoist_ix_users_name\" RENAME TO \"users_name\""
        );
    }

    #[test]
    fn what_cannot_be_rebuilt_is_named() {
        let split = change("[[op]]\ntype = \"split_column\"\ntable = \"users\"\ncolumn = \"name\"\ninto = [{ name = \"first\", sql_type = \"text\", up = \"name\" }, { name = \"last\", sql_type = \"text\", up = \"name\" }]\ndown = \"first || last\"\n");
        let indexes = [index(
            "users_name",
            "CREATE INDEX users_name ON public.users USING btree (name)",
            &["name"],
        )];
        let checks = [Constraint {
            name: "name_short".into(),
            kind: "check constraint",
            columns: vec!["name".into()],
        }];
        let (carried, refused) = plan(&split, "users", &indexes, &checks);
        assert!(carried.is_empty());
        assert!(
            refused[0].starts_with(
                "index `users_name` reads `users.name`, which `split_column` replaces"
            ),
            "{}",
            refused[0]
        );
        assert!(
            refused[1].starts_with("check constraint `name_short`"),
            "{}",
            refused[1]
        );
        let retype = change("[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"text\"\nsql_type = \"varchar(9)\"\nup = \"text\"\ndown = \"text\"\n");
        let cast = [index(
            "users_text",
            "CREATE INDEX users_text ON public.users USING btree (((text)::text))",
            &["text"],
        )];
        let (carried, refused) = plan(&retype, "users", &cast, &[]);
        assert!(
            carried.is_empty() && refused[0].contains("safely"),
            "{refused:?}"
        );
    }
}
