//! Just enough of SQL's lexical rules to quote a name and to find the
//! column names an `up`/`down` expression reads (or rewrite them to the
//! physical columns they live in).

use std::collections::BTreeMap;

/// `name` as a quoted identifier: it may be a reserved word or, for a
/// column the app made, mixed case.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."table"`.
pub(crate) fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote(schema), quote(table))
}

/// `text` as an SQL string literal.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// One piece of an expression: a bare name, or anything else verbatim.
enum Token<'a> {
    Name(&'a str),
    Other(&'a str),
}

/// Splits `expr` into bare names and the rest. String literals, quoted
/// names and numbers are never names; a name before or after `.` (a
/// table and its field) or before `(` (a function) is not a column either.
fn tokens(expr: &str) -> Vec<Token<'_>> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\'' || b == b'"' {
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b {
                    if bytes.get(i + 1) == Some(&b) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
        } else if b.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let from = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'$'))
            {
                i += 1;
            }
            let after_dot = expr[..from].trim_end().ends_with('.');
            let rest = expr[i..].trim_start();
            let before_call = rest.starts_with('(');
            let qualifier = rest.starts_with('.');
            if !after_dot && !before_call && !qualifier {
                if start < from {
                    out.push(Token::Other(&expr[start..from]));
                }
                out.push(Token::Name(&expr[from..i]));
                start = i;
            }
        } else {
            i += 1;
        }
    }
    if start < expr.len() {
        out.push(Token::Other(&expr[start..]));
    }
    out
}

/// The bare names in `expr` (lower-cased, as PostgreSQL folds them), in
/// order, without repeats.
pub(crate) fn names(expr: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for token in tokens(expr) {
        if let Token::Name(name) = token {
            let name = name.to_ascii_lowercase();
            if !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

/// `expr` with each bare name found in `map` replaced by its (quoted)
/// value: a constraint or index written with the new release's names,
/// made to name the physical columns.
pub(crate) fn rewrite(expr: &str, map: &BTreeMap<String, String>) -> String {
    tokens(expr)
        .into_iter()
        .map(|token| match token {
            Token::Name(name) => match map.get(&name.to_ascii_lowercase()) {
                Some(physical) => quote(physical),
                None => name.to_owned(),
            },
            Token::Other(text) => text.to_owned(),
        })
        .collect()
}

/// `expr` with each bare name found in `map` replaced by its value as
/// given (an SQL expression, parenthesised by the caller).
pub(crate) fn substitute(expr: &str, map: &BTreeMap<String, String>) -> String {
    tokens(expr)
        .into_iter()
        .map(|token| match token {
            Token::Name(name) => match map.get(&name.to_ascii_lowercase()) {
                Some(value) => value.clone(),
                None => name.to_owned(),
            },
            Token::Other(text) => text.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_skip_strings_functions_and_fields() {
        let expr =
            "split_part(name, ' ', 1) || 'x''y' || t.other || \"Quoted\" || 12 || Amount::numeric";
        assert_eq!(names(expr), ["name", "amount", "numeric"]);
    }

    #[test]
    fn rewrite_maps_only_bare_names() {
        let map = BTreeMap::from([("amount".to_owned(), "_hoist_new_amount".to_owned())]);
        assert_eq!(
            rewrite("amount > 0 AND 'amount' <> lower(x.amount)", &map),
            "\"_hoist_new_amount\" > 0 AND 'amount' <> lower(x.amount)"
        );
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
