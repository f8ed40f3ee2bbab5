//! What the expansion reads from PostgreSQL's catalog: a table's columns,
//! its primary key, an index's state, the grants on a table.

use super::names::HIDDEN_PREFIX;
use super::shape::Column;
use super::sqltext::qualified;
use postgres::GenericClient;

/// The columns of `schema.table` in order, hidden ones left out; `None`
/// when there is no such table.
pub(crate) fn columns(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<Option<Vec<Column>>, postgres::Error> {
    let rows = client.query(
        "SELECT a.attname::text, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' FROM pg_attribute a \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
        &[&qualified(schema, table)],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        rows.iter()
            .map(|row| Column {
                name: row.get(0),
                not_null: row.get(1),
                has_default: row.get(2),
            })
            .filter(|column| !column.name.starts_with(HIDDEN_PREFIX))
            .collect(),
    ))
}

/// The primary key's columns and their types, in key order (empty: none).
pub(crate) fn primary_key(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<Vec<(String, String)>, postgres::Error> {
    let rows = client.query(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
         FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
         WHERE i.indrelid = to_regclass($1) AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
        &[&qualified(schema, table)],
    )?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// An index's state: `None` when it does not exist, else whether it is
/// valid (a `CREATE INDEX CONCURRENTLY` that failed leaves an invalid one).
pub(crate) fn index_valid(
    client: &mut impl GenericClient,
    schema: &str,
    index: &str,
) -> Result<Option<bool>, postgres::Error> {
    let row = client.query_opt(
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
        &[&qualified(schema, index)],
    )?;
    Ok(row.map(|row| row.get(0)))
}

/// The grants on `schema.table` other than its owner's, as
/// (`grantee` ready for a GRANT, privilege): a view of it gets the same.
pub(crate) fn grants(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<Vec<(String, String)>, postgres::Error> {
    let rows = client.query(
        "SELECT CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, g.privilege_type \
         FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) g \
         LEFT JOIN pg_roles r ON r.oid = g.grantee \
         WHERE c.oid = to_regclass($1) AND g.grantee <> c.relowner \
         ORDER BY 1, 2",
        &[&qualified(schema, table)],
    )?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Whether a schema named `schema` exists.
pub(crate) fn schema_exists(
    client: &mut impl GenericClient,
    schema: &str,
) -> Result<bool, postgres::Error> {
    let row = client.query_one(
        "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
        &[&schema],
    )?;
    Ok(row.get::<_, i64>(0) > 0)
}

/// The view schemas hoist made: (schema, release), from their comments.
pub(crate) fn view_schemas(
    client: &mut impl GenericClient,
) -> Result<Vec<(String, String)>, postgres::Error> {
    let rows = client.query(
        "SELECT n.nspname::text, substr(d.description, length($1) + 1) \
         FROM pg_namespace n JOIN pg_description d ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass \
         WHERE d.description LIKE $1 || '%' ORDER BY 1",
        &[&super::views::COMMENT_PREFIX],
    )?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}
