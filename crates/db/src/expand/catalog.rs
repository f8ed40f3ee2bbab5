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
        "SELECT a.attname::text, a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', \
         pg_get_expr(d.adbin, d.adrelid), \
         EXISTS (SELECT 1 FROM pg_constraint k WHERE \
            (k.contype = 'p' AND k.conrelid = a.attrelid AND a.attnum = ANY (k.conkey)) \
            OR (k.contype = 'f' AND k.confrelid = a.attrelid AND a.attnum = ANY (k.confkey))) \
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
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
                default: row.get(3),
                key: row.get(4),
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

/// The grants on `schema.table` other than its owner's, as (grantee's
/// role, `None` for PUBLIC; privilege): a view of it gets the same.
pub(crate) fn grants(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<Vec<(Option<String>, String)>, postgres::Error> {
    let rows = client.query(
        "SELECT CASE WHEN g.grantee = 0 THEN NULL ELSE r.rolname::text END, g.privilege_type \
         FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) g \
         LEFT JOIN pg_roles r ON r.oid = g.grantee \
         WHERE c.oid = to_regclass($1) AND g.grantee <> c.relowner \
         ORDER BY 1, 2",
        &[&qualified(schema, table)],
    )?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Whether `schema.name` is a relation (table, index, view, sequence...).
pub(crate) fn relation_exists(
    client: &mut impl GenericClient,
    schema: &str,
    name: &str,
) -> Result<bool, postgres::Error> {
    let row = client.query_one(
        "SELECT to_regclass($1) IS NOT NULL",
        &[&qualified(schema, name)],
    )?;
    Ok(row.get(0))
}

/// Whether `schema.table` has a constraint named `name`.
pub(crate) fn constraint_exists(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
    name: &str,
) -> Result<bool, postgres::Error> {
    let row = client.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2)",
        &[&qualified(schema, table), &name],
    )?;
    Ok(row.get(0))
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

/// An index of a table, as `CREATE INDEX` would make it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Index {
    /// Its name.
    pub name: String,
    /// `pg_get_indexdef`: `CREATE INDEX name ON schema.table USING ...`.
    pub definition: String,
    /// A unique index.
    pub unique: bool,
    /// The primary key's index.
    pub primary: bool,
    /// Its access method (`btree`).
    pub method: String,
    /// Operator classes, collations and storage options it names: words
    /// of its definition that are not columns.
    pub other_names: Vec<String>,
    /// The constraint it backs (`u` unique, `x` exclusion): (name, type,
    /// the `DEFERRABLE ...` clause or empty).
    pub constraint: Option<(String, String, String)>,
    /// The table's columns it reads: keys, expressions, predicate.
    pub columns: Vec<String>,
}

/// Every index of `schema.table`, by name.
pub(crate) fn indexes(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<Vec<Index>, postgres::Error> {
    let rows = client.query(
        "SELECT ic.relname::text, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisprimary, am.amname::text, \
         ARRAY(SELECT o.opcname::text FROM unnest(i.indclass::oid[]) c(oid) JOIN pg_opclass o ON o.oid = c.oid \
            UNION ALL SELECT co.collname::text FROM unnest(i.indcollation::oid[]) c(oid) JOIN pg_collation co ON co.oid = c.oid \
            UNION ALL SELECT split_part(opt, '=', 1) FROM unnest(coalesce(ic.reloptions, '{}'::text[])) opt), \
         k.conname::text, k.contype::text, \
         CASE WHEN k.condeferred THEN 'DEFERRABLE INITIALLY DEFERRED' WHEN k.condeferrable THEN 'DEFERRABLE' ELSE '' END, \
         ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum > 0 \
            AND (a.attnum = ANY (i.indkey) OR EXISTS (SELECT 1 FROM pg_depend d \
                WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid \
                AND d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum)) \
            ORDER BY a.attnum) \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam \
         LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x') \
         WHERE i.indrelid = to_regclass($1) ORDER BY 1",
        &[&qualified(schema, table)],
    )?;
    Ok(rows
        .iter()
        .map(|row| Index {
            name: row.get(0),
            definition: row.get(1),
            unique: row.get(2),
            primary: row.get(3),
            method: row.get(4),
            other_names: row.get(5),
            constraint: row
                .get::<_, Option<String>>(6)
                .map(|name| (name, row.get(7), row.get(8))),
            columns: row.get(9),
        })
        .collect())
}

/// A CHECK constraint or a foreign key of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Constraint {
    /// Its name.
    pub name: String,
    /// `check constraint` or `foreign key`, for messages.
    pub kind: &'static str,
    /// The table's columns it reads.
    pub columns: Vec<String>,
}

/// The CHECK constraints and foreign keys of `schema.table` (what a
/// dropped column takes with it besides indexes).
pub(crate) fn constraints(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
) -> Result<Vec<Constraint>, postgres::Error> {
    let rows = client.query(
        "SELECT k.conname::text, k.contype = 'c', \
         ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = k.conrelid \
            AND a.attnum = ANY (k.conkey) ORDER BY a.attnum) \
         FROM pg_constraint k WHERE k.conrelid = to_regclass($1) AND k.contype IN ('c', 'f') ORDER BY 1",
        &[&qualified(schema, table)],
    )?;
    Ok(rows
        .iter()
        .map(|row| Constraint {
            name: row.get(0),
            kind: if row.get(1) {
                "check constraint"
            } else {
                "foreign key"
            },
            columns: row.get(2),
        })
        .collect())
}
