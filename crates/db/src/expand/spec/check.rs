//! The checks [`Change::parse`] makes after reading a file: plain names,
//! nothing empty that an op needs, at most one op per column, and what
//! each op needs (`not_null` needs `backfill` or `default`...). Each
//! refusal names the op and the key. What needs the database (a primary
//! key, a column that exists) is checked when the expansion begins.

use super::{Change, NewColumn, Op};

impl Change {
    pub(super) fn check(&self) -> Result<(), String> {
        if self.ops.is_empty() {
            return Err("has no `[[op]]`; add at least one operation".into());
        }
        let mut touched: Vec<(String, String)> = Vec::new();
        for (index, op) in self.ops.iter().enumerate() {
            let at = |problem: String| format!("op {} ({}): {problem}", index + 1, op.kind());
            op.check().map_err(at)?;
            for column in op.columns_touched() {
                let key = (op.table().unwrap_or_default().to_owned(), column.to_owned());
                if touched.contains(&key) {
                    return Err(at(format!(
                        "column `{}.{}` is changed by an earlier op too; put the second change in a later migration",
                        key.0, key.1
                    )));
                }
                touched.push(key);
            }
        }
        Ok(())
    }

    fn no_empty(key: &str, value: &str) -> Result<(), String> {
        if value.trim().is_empty() {
            return Err(format!("`{key}` is empty"));
        }
        Ok(())
    }
}

impl Op {
    /// The columns it adds, renames or drops (each may be changed by one
    /// op of a file only, so the shapes compose without surprises).
    fn columns_touched(&self) -> Vec<&str> {
        match self {
            Op::AddColumn { column, .. }
            | Op::ChangeType { column, .. }
            | Op::DropColumn { column, .. } => vec![column],
            Op::RenameColumn { from, to, .. } => vec![from, to],
            Op::SplitColumn { column, into, .. } => {
                let mut all = vec![column.as_str()];
                all.extend(into.iter().map(|c| c.name.as_str()));
                all
            }
            Op::MergeColumns { columns, into, .. } => {
                let mut all: Vec<&str> = columns.iter().map(String::as_str).collect();
                all.push(&into.name);
                all
            }
            _ => Vec::new(),
        }
    }

    fn check(&self) -> Result<(), String> {
        if let Some(table) = self.table() {
            identifier("table", table)?;
        }
        match self {
            Op::AddColumn {
                column,
                sql_type,
                default,
                not_null,
                backfill,
                ..
            } => {
                identifier("column", column)?;
                sql_type_text("sql_type", sql_type)?;
                if *not_null && default.is_none() && backfill.is_none() {
                    return Err("a `not_null` column needs `backfill` (or `default`) for the rows that exist and the rows the old release writes".into());
                }
            }
            Op::RenameColumn { from, to, .. } => {
                identifier("from", from)?;
                identifier("to", to)?;
                if from == to {
                    return Err(format!("`from` and `to` are both `{from}`"));
                }
            }
            Op::ChangeType {
                column,
                sql_type,
                up,
                down,
                ..
            } => {
                identifier("column", column)?;
                sql_type_text("sql_type", sql_type)?;
                Change::no_empty("up", up)?;
                Change::no_empty("down", down)?;
            }
            Op::SplitColumn {
                column, into, down, ..
            } => {
                identifier("column", column)?;
                if into.len() < 2 {
                    return Err("`into` needs two or more columns".into());
                }
                new_columns(into)?;
                Change::no_empty("down", down)?;
            }
            Op::MergeColumns {
                columns,
                into,
                down,
                ..
            } => {
                if columns.len() < 2 {
                    return Err("`columns` needs two or more columns".into());
                }
                for column in columns {
                    identifier("columns", column)?;
                    if !down.contains_key(column) {
                        return Err(format!("`down` has no expression for `{column}`"));
                    }
                }
                if let Some(extra) = down.keys().find(|key| !columns.contains(key)) {
                    return Err(format!("`down.{extra}` is not one of `columns`"));
                }
                new_columns(std::slice::from_ref(into))?;
            }
            Op::AddConstraint {
                name,
                check,
                foreign_key,
                ..
            } => {
                identifier("name", name)?;
                match (check, foreign_key) {
                    (Some(check), None) => Change::no_empty("check", check)?,
                    (None, Some(key)) => {
                        if key.columns.is_empty() {
                            return Err("`foreign_key.columns` is empty".into());
                        }
                        for column in key.columns.iter().chain(&key.references_columns) {
                            identifier("foreign_key.columns", column)?;
                        }
                        identifier("foreign_key.references", &key.references)?;
                        if let Some(action) = &key.on_delete {
                            let known = [
                                "cascade",
                                "restrict",
                                "set null",
                                "set default",
                                "no action",
                            ];
                            if !known.contains(&action.to_ascii_lowercase().as_str()) {
                                return Err(format!(
                                    "`foreign_key.on_delete` `{action}` is not one of {}",
                                    known.join(", ")
                                ));
                            }
                        }
                    }
                    _ => return Err("give exactly one of `check` and `foreign_key`".into()),
                }
            }
            Op::CreateIndex {
                name,
                columns,
                method,
                ..
            } => {
                identifier("name", name)?;
                if columns.is_empty() {
                    return Err("`columns` is empty".into());
                }
                // Not checked by PostgreSQL at begin (an operator class
                // or `DESC` is no expression): no second statement rides.
                for column in columns {
                    Change::no_empty("columns", column)?;
                    if [";", "--", "/*"].iter().any(|s| column.contains(s)) {
                        return Err(format!("`columns` entry `{column}` holds `;` or a comment; give one column or expression"));
                    }
                }
                if let Some(method) = method {
                    identifier("method", method)?;
                }
            }
            Op::DropColumn { column, .. } => identifier("column", column)?,
            Op::DropTable { .. } => {}
            Op::Sql { up, .. } => Change::no_empty("up", up)?,
        }
        Ok(())
    }
}

fn new_columns(columns: &[NewColumn]) -> Result<(), String> {
    for column in columns {
        identifier("into.name", &column.name)?;
        sql_type_text("into.sql_type", &column.sql_type)?;
        Change::no_empty("into.up", &column.up)?;
    }
    Ok(())
}

/// A type as SQL text (`numeric(12,2)`, `timestamp with time zone`,
/// `text[]`): it goes into DDL as written, so only letters, digits, `_`,
/// spaces, `.`, `[]` and parentheses with commas inside them; no quote,
/// `;` or comment. PostgreSQL checks that it names a type at begin.
fn sql_type_text(key: &str, text: &str) -> Result<(), String> {
    Change::no_empty(key, text)?;
    let mut depth = 0i32;
    let plain = text.chars().all(|c| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' => return depth > 0,
            _ => {}
        }
        depth >= 0
            && (c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '.' | '[' | ']' | '(' | ')'))
    }) && depth == 0;
    if plain {
        return Ok(());
    }
    Err(format!(
        "`{key}` `{text}` is not a type: give one type name, e.g. `text`, `numeric(12,2)` or `timestamp with time zone` (no `;`, quotes or comments)"
    ))
}

/// A plain PostgreSQL name: lower case, so it means the same quoted or not.
fn identifier(key: &str, name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let plain = matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
        && !name.starts_with("_hoist")
        && !name.starts_with("hoist_");
    if plain {
        return Ok(());
    }
    Err(format!(
        "`{key}` `{name}` is not a plain name: use lower-case letters, digits and `_`, at most 63 bytes, not starting with a digit, `_hoist` or `hoist_`"
    ))
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn reads_an_add_column() {
        let text = "description = \"plans\"\n[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\nbackfill = \"'free'\"\n";
        let change = Change::parse(text).unwrap();
        assert_eq!(change.description.as_deref(), Some("plans"));
        assert!(
            matches!(&change.ops[0], Op::AddColumn { not_null: true, backfill: Some(b), .. } if b == "'free'")
        );
    }

    #[test]
    fn not_null_without_a_value_is_refused() {
        let text = "[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"plan\"\nsql_type = \"text\"\nnot_null = true\n";
        assert!(Change::parse(text)
            .unwrap_err()
            .contains("needs `backfill`"));
    }

    #[test]
    fn change_type_without_up_was_a_toml_error_at_line_one() {
        // "TOML parse error at line 1, column 1 ... missing field `up`":
        // neither the op's number nor its type was named.
        let text = "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n[[op]]\ntype = \"change_type\"\ntable = \"users\"\ncolumn = \"cents\"\nsql_type = \"numeric\"\ndown = \"cents\"\n";
        let problem = Change::parse(text).unwrap_err();
        assert!(
            problem.starts_with("op 2 (change_type): ") && problem.contains("`up`"),
            "{problem}"
        );
        assert!(!problem.contains("line 1, column 1"), "{problem}");
        let text = "[[op]]\ntable = \"users\"\n";
        let problem = Change::parse(text).unwrap_err();
        assert!(problem.contains("op 1 (no `type`)"), "{problem}");
    }

    #[test]
    fn names_the_op_and_the_key() {
        let text = "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"Name\"\nto = \"full_name\"\n";
        let problem = Change::parse(text).unwrap_err();
        assert!(
            problem.contains("op 1 (rename_column)") && problem.contains("`from` `Name`"),
            "{problem}"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let text = "[[op]]\ntype = \"drop_table\"\ntable = \"users\"\ncascade = true\n";
        assert!(Change::parse(text).unwrap_err().contains("cascade"));
    }

    // Broke: `sql_type = "text; drop table nopk; --"` went into the DDL
    // as written and dropped a table.
    #[test]
    fn sql_type_with_a_second_statement_dropped_a_table() {
        for bad in [
            "text; drop table nopk; --",
            "text -- x",
            "\"text\"",
            "text, add column x int",
            "numeric(12,2))",
        ] {
            let text = format!("[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"x\"\nsql_type = {bad:?}\n");
            let problem = Change::parse(&text).unwrap_err();
            assert!(
                problem.contains("op 1 (add_column): `sql_type`"),
                "{bad}: {problem}"
            );
        }
        for good in [
            "numeric(12,2)",
            "timestamp with time zone",
            "text[]",
            "public.citext",
            "varchar(200)",
        ] {
            let text = format!("[[op]]\ntype = \"add_column\"\ntable = \"users\"\ncolumn = \"x\"\nsql_type = {good:?}\n");
            Change::parse(&text).unwrap();
        }
        let index = "[[op]]\ntype = \"create_index\"\ntable = \"users\"\nname = \"i\"\ncolumns = [\"name); drop table nopk; --\"]\n";
        assert!(Change::parse(index)
            .unwrap_err()
            .contains("`columns` entry"));
    }

    #[test]
    fn one_column_one_op_per_file() {
        let text = "[[op]]\ntype = \"rename_column\"\ntable = \"users\"\nfrom = \"name\"\nto = \"full_name\"\n[[op]]\ntype = \"drop_column\"\ntable = \"users\"\ncolumn = \"full_name\"\n";
        assert!(Change::parse(text)
            .unwrap_err()
            .contains("op 2 (drop_column)"));
    }
}
