//! A new-side release's view schema: one updatable view per table whose
//! shape the expansion changes, with the new names aliased onto the
//! physical columns. Unchanged tables are not there: `search_path` falls
//! through to the base schema for them. Grants mirror the base tables'.

use super::shape::TableShape;
use super::sqltext::{literal, qualified, quote};

/// How a view schema's comment starts; the rest is the release. Status
/// finds hoist's view schemas (and their releases) by it.
pub(crate) const COMMENT_PREFIX: &str = "hoist: views of release ";

/// Grants of one base table: (grantee's role, `None` for PUBLIC; privilege).
pub(crate) type Grants = Vec<(Option<String>, String)>;

/// The statements that make `schema` for `release` (idempotent: a view
/// is replaced, a schema that exists is kept).
pub(crate) fn schema_sql(
    schema: &str,
    release: &str,
    base: &str,
    shapes: &[(&TableShape, Grants)],
) -> Vec<String> {
    let mut sql = vec![
        format!("CREATE SCHEMA IF NOT EXISTS {}", quote(schema)),
        format!(
            "COMMENT ON SCHEMA {} IS {}",
            quote(schema),
            literal(&format!("{COMMENT_PREFIX}{release}"))
        ),
    ];
    let mut grantees: Vec<String> = Vec::new();
    for (shape, grants) in shapes.iter().filter(|(shape, _)| shape.view) {
        sql.push(view_sql(schema, base, shape));
        let view = qualified(schema, &shape.table);
        for (role, privilege) in grants {
            let grantee = role.as_deref().map_or_else(|| "PUBLIC".to_owned(), quote);
            sql.push(format!("GRANT {privilege} ON {view} TO {grantee}"));
            if !grantees.contains(&grantee) {
                grantees.push(grantee);
            }
        }
    }
    for grantee in grantees {
        sql.push(format!(
            "GRANT USAGE ON SCHEMA {} TO {grantee}",
            quote(schema)
        ));
    }
    sql
}

/// One view: explicit columns, each new name over its physical column,
/// so PostgreSQL makes it updatable by itself.
pub(crate) fn view_sql(schema: &str, base: &str, shape: &TableShape) -> String {
    let columns: Vec<String> = shape
        .new
        .iter()
        .map(|(name, physical)| {
            if name == physical {
                quote(name)
            } else {
                format!("{} AS {}", quote(physical), quote(name))
            }
        })
        .collect();
    format!(
        "CREATE OR REPLACE VIEW {} AS SELECT {} FROM {}",
        qualified(schema, &shape.table),
        columns.join(", "),
        qualified(base, &shape.table)
    )
}

/// Drops a view schema and its views.
pub(crate) fn drop_sql(schema: &str) -> String {
    format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(schema))
}

#[cfg(test)]
mod tests {
    use super::super::shape::{build, tests::change, tests::users};
    use super::*;

    #[test]
    fn views_alias_new_names_and_mirror_grants() {
        let change = change("[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n[[op]]\ntype = \"drop_column\"\ntable = \"users\"\ncolumn = \"email\"\n");
        let shapes = build(&change, &users()).unwrap();
        let grants = vec![
            (Some("app".to_owned()), "SELECT".to_owned()),
            (None, "SELECT".to_owned()),
        ];
        let sql = schema_sql("hoist_v2", "v2", "public", &[(&shapes[0], grants)]);
        assert_eq!(
            sql[2],
            "CREATE OR REPLACE VIEW \"hoist_v2\".\"users\" AS SELECT \"id\", \"name\" AS \"full_name\", \"amount\" FROM \"public\".\"users\""
        );
        assert_eq!(sql[3], "GRANT SELECT ON \"hoist_v2\".\"users\" TO \"app\"");
        assert_eq!(sql[4], "GRANT SELECT ON \"hoist_v2\".\"users\" TO PUBLIC");
        assert_eq!(sql[5], "GRANT USAGE ON SCHEMA \"hoist_v2\" TO \"app\"");
        assert_eq!(sql[6], "GRANT USAGE ON SCHEMA \"hoist_v2\" TO PUBLIC");
    }
}
