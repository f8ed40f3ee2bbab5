//! The database side of the expand/contract tests: every row the load
//! wrote, read as each release reads it (through its `search_path`), the
//! schema as `pg_dump --schema-only` prints it, and row checksums.

use super::schema_app::Shape;
use super::schema_person::Row;
use postgres::{Client, NoTls};

/// Connects to `url` with `search_path` set as a release's processes get
/// it (`hoist_<release>, public`, or `public` for the old release).
pub fn connect_as(url: &str, search_path: &str) -> Client {
    let mut client = Client::connect(url, NoTls).expect("connect to the test database");
    client
        .batch_execute(&format!("SET search_path TO {search_path}"))
        .unwrap();
    client
}

/// The `search_path` of `release` while an expansion is open: its view
/// schema first on the new side, the base schema on the old.
pub fn search_path(release: &str, shape: Shape) -> String {
    if shape.is_new() {
        format!("{}, public", hoist_db::expand::view_schema(release))
    } else {
        "public".to_owned()
    }
}

/// Reads every row of `rows` through `search_path` with `shape`'s
/// columns, as that release's app would; panics naming the rows that are
/// missing or hold anything but their latest values. Returns how many were checked.
#[track_caller]
pub fn assert_rows(url: &str, search_path: &str, shape: Shape, rows: &[Row], what: &str) -> usize {
    let mut client = connect_as(url, search_path);
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let query = format!(
        "SELECT t.id::int8, row_to_json(t)::text FROM (SELECT id, {} FROM users WHERE id = ANY($1::int8[])) t",
        shape.columns().join(", ")
    );
    let found: std::collections::HashMap<i64, serde_json::Value> = client
        .query(&query, &[&ids])
        .unwrap_or_else(|error| {
            panic!("{what}: reading users as {shape:?} ({search_path}): {error}")
        })
        .iter()
        .map(|row| (row.get(0), serde_json::from_str(row.get(1)).unwrap()))
        .collect();
    let problems: Vec<String> = rows
        .iter()
        .filter_map(|row| match found.get(&row.id) {
            None => Some(format!("row {} is missing", row.id)),
            Some(got) => row.check(shape, got).err(),
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{what}: {} of {} rows read wrong as {shape:?} through `{search_path}`: {:#?}",
        problems.len(),
        rows.len(),
        &problems[..problems.len().min(10)]
    );
    eprintln!(
        "{what}: {} rows read right as {shape:?} through `{search_path}`",
        rows.len()
    );
    rows.len()
}

/// `pg_dump --schema-only` of `url`, without the lines that differ
/// between two dumps of the same schema: comments, and the random key of
/// `\restrict` / `\unrestrict` (newer pg_dump guards its output with them).
pub fn schema_dump(url: &str) -> String {
    let output = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", url])
        .output()
        .expect("`pg_dump` runs (postgresql-client)");
    assert!(
        output.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| {
            !line.starts_with("--")
                && !line.is_empty()
                && !line.starts_with("\\restrict ")
                && !line.starts_with("\\unrestrict ")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// (rows, md5) of `table` in `public`: every row, all columns, in `id` order.
pub fn checksum(url: &str, table: &str) -> (i64, String) {
    let mut client = connect_as(url, "public");
    let row = client
        .query_one(
            &format!("SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') FROM {table} t"),
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

/// Asserts two schema dumps are the same, showing the lines that differ.
#[track_caller]
pub fn assert_same_schema(before: &str, after: &str, what: &str) {
    if before != after {
        let old: std::collections::BTreeSet<&str> = before.lines().collect();
        let new: std::collections::BTreeSet<&str> = after.lines().collect();
        let gone: Vec<&&str> = old.difference(&new).collect();
        let added: Vec<&&str> = new.difference(&old).collect();
        panic!(
            "{what}: the schema differs\n--- only before: {gone:#?}\n--- only after: {added:#?}"
        );
    }
}
