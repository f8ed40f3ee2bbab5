//! The trigger on each changed table that keeps the old and the new
//! columns in step, whichever release writes.
//!
//! The writer's side is read from its `search_path`: a session of a
//! new-side release has its view schema first, so
//! `(current_schemas(false))[1]` is one of the new side's schemas (baked
//! into the function, which is re-created when a release joins). Each
//! side's expressions run in a block whose PL/pgSQL variables are named
//! like that side's columns, so an `up` says `name` and a `down` says
//! `full_name`, as the release that wrote them would.

use super::shape::{Sync, TableShape};
use super::sqltext::{literal, qualified, quote};

/// Set (`SET LOCAL`) in a backfill batch's transaction: the batch sets
/// every hidden column itself, so the trigger has nothing to add and
/// steps aside, which keeps the batch (and its row locks) short.
pub(crate) const BACKFILL_SETTING: &str = "hoist.backfill";

/// The trigger's name on every table (one per table).
pub(crate) const TRIGGER: &str = "_hoist_sync";

/// `CREATE OR REPLACE FUNCTION` for `shape`'s trigger; `new_schemas` are
/// the view schemas of the new side.
pub(crate) fn function_sql(shape: &TableShape, base: &str, new_schemas: &[String]) -> String {
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
    format!(
        "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $hoist_sync$
#variable_conflict use_variable
BEGIN
  IF current_setting('{BACKFILL_SETTING}', true) = 'on' THEN
    RETURN NEW;
  END IF;
  IF (current_schemas(false))[1]::text = ANY (ARRAY[{schemas}]::text[]) THEN
    DECLARE
      {new_vars}
    BEGIN
{down}    END;
  ELSE
    DECLARE
      {old_vars}
    BEGIN
{up}    END;
  END IF;
  RETURN NEW;
END
$hoist_sync$",
        function = qualified(base, &shape.function()),
        new_vars = new_vars.join("\n      "),
        old_vars = old_vars.join("\n      "),
        down = assignments(&shape.down),
        up = assignments(&shape.up),
    )
}

/// The assignments of one side, each under its condition.
fn assignments(syncs: &[Sync]) -> String {
    let mut out = String::new();
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
            "TG_OP = 'INSERT'".to_owned()
        } else {
            let row = |record: &str| {
                sync.sources
                    .iter()
                    .map(|s| format!("{record}.{}", quote(s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // On UPDATE only when what it is computed from changed: a
            // value the other side wrote is not recomputed (and maybe
            // changed, for a lossy `up`) by an unrelated update.
            format!(
                "TG_OP = 'INSERT' OR ROW({}) IS DISTINCT FROM ROW({})",
                row("NEW"),
                row("OLD")
            )
        };
        out.push_str(&format!(
            "      IF {condition} THEN\n        {assign}\n      END IF;\n"
        ));
    }
    if out.is_empty() {
        out.push_str("      NULL;\n");
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
        let sql = function_sql(shape, "public", &["hoist_v2".into()]);
        assert!(sql.contains("= ANY (ARRAY['hoist_v2']::text[])"), "{sql}");
        assert!(
            sql.contains("\"amount\" \"public\".\"users\".\"_hoist_new_amount\"%TYPE := NEW.\"_hoist_new_amount\";"),
            "{sql}"
        );
        assert!(sql.contains("IF TG_OP = 'INSERT' OR ROW(NEW.\"_hoist_new_amount\") IS DISTINCT FROM ROW(OLD.\"_hoist_new_amount\") THEN\n        NEW.\"amount\" := ((amount * 100)::int);"), "{sql}");
        assert!(
            sql.contains("NEW.\"_hoist_new_amount\" := (amount::numeric / 100);"),
            "{sql}"
        );
    }

    #[test]
    fn a_new_column_keeps_what_the_new_side_wrote_on_update() {
        let change = change("[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"'free'\"\n");
        let shape = &build(&change, &users()).unwrap()[0];
        let sql = function_sql(shape, "public", &[]);
        assert!(sql.contains("ARRAY[]::text[]"), "{sql}");
        assert!(
            sql.contains("IF TG_OP = 'INSERT' OR NEW.\"_hoist_new_plan\" IS NULL THEN"),
            "{sql}"
        );
    }
}
