//! The trigger on each changed table that keeps the old and the new
//! columns in step, whichever release writes.
//!
//! The writer's side: a write is the new side's when either
//!
//! - its session's `search_path` says so: a new-side release has its view
//!   schema first, so `(current_schemas(false))[1]` is one of the new
//!   side's schemas (baked into the function, which is re-created when a
//!   release joins); or
//! - the write itself says so, because it set what only the new side can
//!   name: a write through a view named by its schema
//!   (`hoist_v2.users`, an admin in `psql`, an app qualifying names with
//!   `HOIST_DB_SCHEMA`) from a session with the base `search_path`.
//!   - UPDATE: a hidden column changed and no old-only column (one the
//!     new side cannot name: replaced or dropped) did. The old side
//!     cannot name hidden columns, so it never changes one.
//!   - INSERT: some hidden column holds something other than the default
//!     a row that does not name it gets, and every old-only column holds
//!     its default (or NULL), which is all a write through a view can
//!     give it. A hidden column whose default calls a function
//!     (`gen_random_uuid()`, `nextval(...)`) is no evidence (the default
//!     cannot be evaluated again to compare), nor is an old-only column's
//!     such default held against it.
//!
//!   A table whose new shape has no hidden column (a rename, a dropped
//!   column) gives no evidence: there a write by qualified name from a
//!   base `search_path` counts as the old side's; harmless for a rename
//!   (both sides write the same column), and for a dropped column it gets
//!   its default instead of its `down`.
//!
//! Each
//! side's expressions run in a block whose PL/pgSQL variables are named
//! like that side's columns, so an `up` says `name` and a `down` says
//! `full_name`, as the release that wrote them would.

use super::faults::{self, REPAIR_SETTING};
use super::names::shown;
use super::shape::{Column, Sync, TableShape};
use super::sqltext::{calls_function, dollar_tag, literal, qualified, quote};

/// Set (`SET LOCAL`) in a backfill batch's transaction: the batch sets
/// every hidden column itself, so the trigger has nothing to add and
/// steps aside, which keeps the batch (and its row locks) short.
pub(crate) const BACKFILL_SETTING: &str = "hoist.backfill";

/// The trigger's name on every table (one per table).
pub(crate) const TRIGGER: &str = "_hoist_sync";

/// `CREATE OR REPLACE FUNCTION` for `shape`'s trigger; `new_schemas` are
/// the view schemas of the new side; `key` is the table's primary key
/// (what a fault is recorded by, `faults.rs`).
pub(crate) fn function_sql(
    shape: &TableShape,
    base: &str,
    new_schemas: &[String],
    key: &[(String, String)],
) -> String {
    let table = qualified(base, &shape.table);
    let schemas = new_schemas
        .iter()
        .map(|s| literal(s))
        .collect::<Vec<_>>()
        .join(", ");
    let column_type = |physical: &str| format!("{table}.{}%TYPE", quote(physical));
    let new_vars: Vec<String> = shape
        .new
        .iter()
        .map(|(name, physical)| {
            format!(
                "{} {} := NEW.{};",
                quote(name),
                column_type(physical),
                quote(physical)
            )
        })
        .collect();
    let old_vars: Vec<String> = shape
        .old
        .iter()
        .map(|c| {
            format!(
                "{} {} := NEW.{};",
                quote(&c.name),
                column_type(&c.name),
                quote(&c.name)
            )
        })
        .collect();
    let evidence = new_side_evidence(shape, &table);
    let body = format!(
        "#variable_conflict use_variable
DECLARE
  {defaults}
  _hoist_repair text := coalesce(current_setting('{REPAIR_SETTING}', true), '');
BEGIN
  IF current_setting('{BACKFILL_SETTING}', true) = 'on' THEN
    RETURN NEW;
  END IF;
  IF _hoist_repair <> 'old'
      AND ((current_schemas(false))[1]::text = ANY (ARRAY[{schemas}]::text[])
      OR {evidence}) THEN
    DECLARE
      {new_vars}
    BEGIN
{down}{not_null}    END;
  ELSE
    DECLARE
      {old_vars}
    BEGIN
{up}    END;
  END IF;
  RETURN NEW;
END",
        new_vars = new_vars.join("\n      "),
        old_vars = old_vars.join("\n      "),
        down = assignments(&shape.down, &side(shape, base, key, faults::Side::New)),
        up = assignments(&shape.up, &side(shape, base, key, faults::Side::Old)),
        not_null = new_side_not_null(shape),
        evidence = evidence.1,
        defaults = evidence.0.join("\n  "),
    );
    // Column names come from the catalog and expressions from the file:
    // the body's quote must be one neither holds, or it would end the
    // body and run the rest as the migrator.
    let tag = dollar_tag("hoist_sync", &body);
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {tag}\n{body}\n{tag}",
        qualified(base, &shape.function())
    )
}

/// The condition under which a write shows by itself that the new side
/// made it (see the module's docs), and the variables it compares with
/// (each column's default, declared with the column's own type). Values
/// are compared as text, so a type without `=` (`json`) works too.
fn new_side_evidence(shape: &TableShape, table: &str) -> (Vec<String>, String) {
    if shape.hidden.is_empty() {
        return (Vec::new(), "false".into());
    }
    let usable = |default: &Option<String>| !default.as_deref().is_some_and(calls_function);
    let mut declare = Vec::new();
    let mut default_of = |column: &str, default: &str| {
        let variable = format!("_hoist_default_{}", declare.len() + 1);
        declare.push(format!(
            "{variable} {table}.{}%TYPE := ({default});",
            quote(column)
        ));
        variable
    };
    let mut set = Vec::new();
    for (column, default) in shape.hidden.iter().filter(|(_, d)| usable(d)) {
        let value = format!("NEW.{}", quote(column));
        set.push(match default {
            Some(default) => {
                let variable = default_of(column, default);
                format!("{value}::text IS DISTINCT FROM {variable}::text")
            }
            None => format!("{value} IS NOT NULL"),
        });
    }
    let physical: Vec<&str> = shape.new.iter().map(|(_, p)| p.as_str()).collect();
    let old_only: Vec<&Column> = shape
        .old
        .iter()
        .filter(|c| !physical.contains(&c.name.as_str()))
        .collect();
    let mut insert = match set.is_empty() {
        true => "false".to_owned(),
        false => format!("({})", set.join(" OR ")),
    };
    for column in old_only.iter().filter(|c| usable(&c.default)) {
        let value = format!("NEW.{}", quote(&column.name));
        insert.push_str(&match &column.default {
            Some(default) => {
                let variable = default_of(&column.name, default);
                format!(" AND ({value} IS NULL OR {value}::text = {variable}::text)")
            }
            None => format!(" AND {value} IS NULL"),
        });
    }
    let row = |record: &str, columns: &mut dyn Iterator<Item = &str>| {
        let list: Vec<String> = columns
            .map(|c| format!("{record}.{}::text", quote(c)))
            .collect();
        format!("ROW({})", list.join(", "))
    };
    let hidden = || shape.hidden.iter().map(|(c, _)| c.as_str());
    let olds = || old_only.iter().map(|c| c.name.as_str());
    let mut update = format!(
        "{} IS DISTINCT FROM {}",
        row("NEW", &mut hidden()),
        row("OLD", &mut hidden())
    );
    if !old_only.is_empty() {
        update.push_str(&format!(
            " AND {} IS NOT DISTINCT FROM {}",
            row("NEW", &mut olds()),
            row("OLD", &mut olds())
        ));
    }
    let condition = format!("(CASE TG_OP WHEN 'UPDATE' THEN {update} ELSE {insert} END)");
    (declare, condition)
}

/// What one side's assignments need to record a fault.
struct Side<'a> {
    /// Which side.
    side: faults::Side,
    /// The base schema.
    base: &'a str,
    /// The table.
    table: &'a str,
    /// Its primary key (a fault is recorded by it).
    key: &'a [(String, String)],
    /// Hidden columns that become NOT NULL: a NULL computed for one on
    /// the old side is a fault too (contract's SET NOT NULL would fail).
    not_null: Vec<&'a str>,
}

fn side<'a>(
    shape: &'a TableShape,
    base: &'a str,
    key: &'a [(String, String)],
    side: faults::Side,
) -> Side<'a> {
    Side {
        side,
        base,
        table: &shape.table,
        key,
        not_null: match side {
            faults::Side::Old => shape.not_null.iter().map(|n| n.column.as_str()).collect(),
            faults::Side::New => Vec::new(),
        },
    }
}

/// The assignments of one side, each under its condition, each in a
/// block that catches its error: the write goes on and the row is
/// recorded as a fault (`faults.rs`), unless contract is recomputing it
/// (`hoist.repair`), which must see the error.
fn assignments(syncs: &[Sync], side: &Side<'_>) -> String {
    let mut out = String::new();
    // Contract recomputes old-side rows only (`faults.rs`).
    let forced = match side.side {
        faults::Side::Old => " OR _hoist_repair = 'old'",
        faults::Side::New => "",
    };
    for sync in syncs {
        let target = format!("NEW.{}", quote(&sync.target));
        let assign = format!("{target} := ({});", sync.expr);
        let condition = if sync.when_null {
            // An old-side INSERT cannot have chosen the value of a column
            // it does not know: whatever is there is the default, and
            // `backfill` is the value for rows the old release writes.
            // An UPDATE keeps what the new side wrote.
            format!("TG_OP = 'INSERT' OR {target} IS NULL")
        } else if sync.sources.is_empty() {
            format!("TG_OP = 'INSERT'{forced}")
        } else {
            let row = |record: &str| {
                sync.sources
                    .iter()
                    .map(|s| format!("{record}.{}::text", quote(s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // On UPDATE only when what it is computed from changed: a
            // value the other side wrote is not recomputed (and maybe
            // changed, for a lossy `up`) by an unrelated update. As text:
            // a type may have no `=` (`json`).
            format!(
                "TG_OP = 'INSERT' OR ROW({}) IS DISTINCT FROM ROW({}){forced}",
                row("NEW"),
                row("OLD")
            )
        };
        let null_check = if side.not_null.contains(&sync.target.as_str()) {
            format!(
                "\n          IF {target} IS NULL THEN\n            RAISE EXCEPTION USING ERRCODE = 'not_null_violation', MESSAGE = {};\n          END IF;",
                literal(&format!(
                    "the expression gave NULL for the new `{}`, which becomes NOT NULL",
                    shown(&sync.target).unwrap_or(&sync.target)
                ))
            )
        } else {
            String::new()
        };
        // A `backfill` value left unfilled shows as NULL, so contract
        // finds the row to fill again.
        let unfill = if sync.when_null {
            format!("\n          IF TG_OP = 'INSERT' THEN {target} := NULL; END IF;")
        } else {
            String::new()
        };
        out.push_str(&format!(
            "      IF {condition} THEN\n        BEGIN\n          {assign}{null_check}\n        EXCEPTION WHEN OTHERS THEN\n          IF _hoist_repair <> '' THEN RAISE; END IF;{unfill}\n          {}\n        END;\n      END IF;\n",
            faults::record_call(side.base, side.table, side.key, &sync.target, side.side)
        ));
    }
    if out.is_empty() {
        out.push_str("      NULL;\n");
    }
    out
}

/// The NOT NULL a hidden column gets at contract, kept for the new
/// side's writes meanwhile (as the column itself would: same error code
/// and message). Not a CHECK: that would fail the old side's writes too,
/// whose value the trigger computes and may not be able to
/// (`faults.rs`). A row already NULL (a fault) may still be updated.
fn new_side_not_null(shape: &TableShape) -> String {
    let mut out = String::new();
    for not_null in &shape.not_null {
        let name = shape
            .new
            .iter()
            .find(|(_, physical)| *physical == not_null.column)
            .map(|(name, _)| name.as_str())
            .unwrap_or(&not_null.column);
        let column = format!("NEW.{}", quote(&not_null.column));
        out.push_str(&format!(
            "      IF {column} IS NULL AND (TG_OP = 'INSERT' OR OLD.{} IS NOT NULL) AND _hoist_repair = '' THEN\n        RAISE EXCEPTION USING ERRCODE = 'not_null_violation', MESSAGE = {}, COLUMN = {}, TABLE = {};\n      END IF;\n",
            quote(&not_null.column),
            literal(&format!("null value in column \"{name}\" of relation \"{}\" violates not-null constraint", shape.table)),
            literal(name),
            literal(&shape.table),
        ));
    }
    out
}

/// Installs the trigger (after its function exists).
pub(crate) fn trigger_sql(shape: &TableShape, base: &str) -> String {
    let table = qualified(base, &shape.table);
    format!(
        "DROP TRIGGER IF EXISTS {trigger} ON {table}; CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()",
        trigger = quote(TRIGGER),
        function = qualified(base, &shape.function()),
    )
}

/// Removes the trigger and its function, if there.
pub(crate) fn drop_sql(table: &str, function: &str, base: &str) -> String {
    format!(
        "DROP TRIGGER IF EXISTS {} ON {}; DROP FUNCTION IF EXISTS {}()",
        quote(TRIGGER),
        qualified(base, table),
        qualified(base, function)
    )
}

#[cfg(test)]
mod tests {
    use super::super::shape::{build, tests::change, tests::users};
    use super::*;

    #[test]
    fn each_side_sees_its_own_names() {
        let change = change("[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"amount\"\nsql_type = \"numeric\"\nup = \"amount::numeric / 100\"\ndown = \"(amount * 100)::int\"\n");
        let shape = &build(&change, &users()).unwrap()[0];
        let sql = function_sql(
            shape,
            "public",
            &["hoist_v2".into()],
            &[("id".into(), "integer".into())],
        );
        assert!(sql.contains("= ANY (ARRAY['hoist_v2']::text[])"), "{sql}");
        assert!(
            sql.contains("\"amount\" \"public\".\"users\".\"_hoist_new_amount\"%TYPE := NEW.\"_hoist_new_amount\";"),
            "{sql}"
        );
        assert!(sql.contains("IF TG_OP = 'INSERT' OR ROW(NEW.\"_hoist_new_amount\"::text) IS DISTINCT FROM ROW(OLD.\"_hoist_new_amount\"::text) THEN\n        BEGIN\n          NEW.\"amount\" := ((amount * 100)::int);"), "{sql}");
        // A failing expression keeps the write and records the row.
        assert!(sql.contains("EXCEPTION WHEN OTHERS THEN\n          IF _hoist_repair <> '' THEN RAISE; END IF;\n          BEGIN PERFORM \"public\".\"hoist_expansion_fault_record\"('users', jsonb_build_object('id', NEW.\"id\"), 'amount', 'new', SQLERRM, NEW.\"amount\"::text);"), "{sql}");
        assert!(sql.starts_with("CREATE OR REPLACE FUNCTION \"public\".\"_hoist_sync_users\"() RETURNS trigger LANGUAGE plpgsql AS $hoist_sync$\n"), "{sql}");
        assert!(
            sql.contains("NEW.\"_hoist_new_amount\" := (amount::numeric / 100);"),
            "{sql}"
        );
    }

    #[test]
    fn a_new_column_keeps_what_the_new_side_wrote_on_update() {
        let change = change("[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"'free'\"\n");
        let shape = &build(&change, &users()).unwrap()[0];
        let sql = function_sql(shape, "public", &[], &[("id".into(), "integer".into())]);
        assert!(sql.contains("ARRAY[]::text[]"), "{sql}");
        assert!(
            sql.contains("IF TG_OP = 'INSERT' OR NEW.\"_hoist_new_plan\" IS NULL THEN"),
            "{sql}"
        );
    }
}
