//! Splits a SQL script into statements. PostgreSQL runs a multi-statement
//! query string as one implicit transaction, so a `no-transaction`
//! migration (e.g. `CREATE INDEX CONCURRENTLY`) must be sent a statement
//! at a time. Quotes, dollar quotes and comments are respected.

/// The statements of `sql`, trimmed, without empty ones.
pub fn statements(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => i = skip_quoted(bytes, i),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |end| i + end + 1)
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |end| i + 2 + end + 2)
            }
            b'$' => i = skip_dollar_quoted(sql, i),
            b';' => {
                push(&mut statements, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push(&mut statements, &sql[start..]);
    statements
}

fn push(statements: &mut Vec<String>, text: &str) {
    let has_code = text.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with("--")
    });
    if has_code {
        statements.push(text.trim().to_owned());
    }
}

/// Past a `'...'` or `"..."` literal; a doubled quote is an escaped one.
fn skip_quoted(bytes: &[u8], open: usize) -> usize {
    let quote = bytes[open];
    let mut i = open + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Past a `$tag$...$tag$` body; a `$` that opens no tag (e.g. `$1`) is skipped alone.
fn skip_dollar_quoted(sql: &str, open: usize) -> usize {
    let rest = &sql[open + 1..];
    let tag_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if !rest[tag_len..].starts_with('$')
        || rest[..tag_len].starts_with(|c: char| c.is_ascii_digit())
    {
        return open + 1;
    }
    let tag = &sql[open..open + tag_len + 2];
    let body = open + tag.len();
    sql[body..]
        .find(tag)
        .map_or(sql.len(), |end| body + end + tag.len())
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let sql = "CREATE INDEX CONCURRENTLY i ON t(a);\n-- a; comment\nINSERT INTO t VALUES ('x;y', \"q;\"\"\");\n/* block; */ UPDATE t SET a = 1;\n";
        assert_eq!(
            statements(sql),
            [
                "CREATE INDEX CONCURRENTLY i ON t(a)",
                "-- a; comment\nINSERT INTO t VALUES ('x;y', \"q;\"\"\")",
                "/* block; */ UPDATE t SET a = 1",
            ]
        );
    }

    #[test]
    fn keeps_dollar_quoted_bodies_whole() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\nSELECT $1;";
        let parts = statements(sql);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(parts[0].ends_with("LANGUAGE plpgsql"));
    }

    #[test]
    fn comments_alone_are_not_statements() {
        assert!(statements("-- hoist: no-transaction\n\n").is_empty());
    }
}
