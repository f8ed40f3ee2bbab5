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

/// One piece of an expression: a bare name, a quoted name (quotes and
/// all), or anything else verbatim.
enum Token<'a> {
    Name(&'a str),
    Quoted(&'a str),
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
            let from = i;
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
            i = (i + 1).min(bytes.len());
            if b == b'"' && !qualified_or_call(expr, from, i) {
                if start < from {
                    out.push(Token::Other(&expr[start..from]));
                }
                out.push(Token::Quoted(&expr[from..i]));
                start = i;
            }
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
            if !qualified_or_call(expr, from, i) {
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

/// Whether the name at `expr[from..to]` is a field or a table (before or
/// after `.`) or a function (before `(`), not a column.
fn qualified_or_call(expr: &str, from: usize, to: usize) -> bool {
    let rest = expr[to..].trim_start();
    expr[..from].trim_end().ends_with('.') || rest.starts_with('(') || rest.starts_with('.')
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
            Token::Quoted(text) | Token::Other(text) => text.to_owned(),
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
            Token::Quoted(text) | Token::Other(text) => text.to_owned(),
        })
        .collect()
}

/// A definition PostgreSQL printed (`pg_get_indexdef`) with each name in
/// `map` replaced by its (quoted) value. PostgreSQL prints a column bare
/// when it is a plain lower-case name and quoted when it is a keyword,
/// and keywords in upper case: so a bare name matches exactly, and a
/// quoted one by what it spells.
pub(crate) fn rename_columns(definition: &str, map: &BTreeMap<String, String>) -> String {
    tokens(definition)
        .into_iter()
        .map(|token| {
            let column = match token {
                Token::Name(name) => Some(name.to_owned()),
                Token::Quoted(text) => text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .map(|t| t.replace("\"\"", "\"")),
                Token::Other(_) => None,
            };
            match column.and_then(|c| map.get(&c)) {
                Some(physical) => quote(physical),
                None => match token {
                    Token::Name(text) | Token::Quoted(text) | Token::Other(text) => text.to_owned(),
                },
            }
        })
        .collect()
}

/// Where the bare word `word` (a keyword PostgreSQL printed, in upper
/// case) first stands in `definition`, outside quotes and literals.
pub(crate) fn keyword_at(definition: &str, word: &str) -> Option<usize> {
    let start = definition.as_ptr() as usize;
    tokens(definition)
        .into_iter()
        .find_map(|token| match token {
            Token::Name(name) if name == word => Some(name.as_ptr() as usize - start),
            _ => None,
        })
}

/// The words of `definition` that name a type (after `::`, as
/// `character varying` or `timestamp with time zone`) or a field of
/// `EXTRACT(...)`: bare words that are not columns.
pub(crate) fn type_words(definition: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut take = |rest: &str| {
        let phrase: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == ' ')
            .collect();
        words.extend(phrase.split_whitespace().map(str::to_owned));
    };
    for (at, _) in definition.match_indices("::") {
        take(&definition[at + 2..]);
    }
    for (at, _) in definition.match_indices("EXTRACT(") {
        take(&definition[at + 8..]);
    }
    words
}

/// Whether `expr` calls a function (a name, outside quotes, before `(`):
/// evaluating it again may not give the same value, or may have an
/// effect (`nextval`).
pub(crate) fn calls_function(expr: &str) -> bool {
    let bytes = expr.as_bytes();
    let mut quote: Option<u8> = None;
    let mut last = b' ';
    for &b in bytes {
        match quote {
            Some(q) if b == q => {
                quote = None;
                last = b;
            }
            Some(_) => {}
            None if b == b'\'' || b == b'"' => {
                quote = Some(b);
                last = b;
            }
            None if b == b'(' && (last.is_ascii_alphanumeric() || last == b'_' || last == b'"') => {
                return true
            }
            None if !b.is_ascii_whitespace() => last = b,
            None => {}
        }
    }
    false
}

/// A dollar-quote tag (`$name$`, or `$name_2$`...) that `body` does not
/// hold, so quoting `body` with it cannot end early.
pub(crate) fn dollar_tag(name: &str, body: &str) -> String {
    (1..)
        .map(|n| match n {
            1 => format!("${name}$"),
            n => format!("${name}_{n}$"),
        })
        .find(|tag| !body.contains(tag.as_str()))
        .expect("some tag is free")
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
    fn renaming_columns_of_a_definition_leaves_keywords_and_functions() {
        let map = BTreeMap::from([
            ("name".to_owned(), "_hoist_new_name".to_owned()),
            ("order".to_owned(), "_hoist_new_order".to_owned()),
        ]);
        assert_eq!(
            rename_columns("USING btree (lower(name), \"order\" DESC) WHERE (name <> 'name')", &map),
            "USING btree (lower(\"_hoist_new_name\"), \"_hoist_new_order\" DESC) WHERE (\"_hoist_new_name\" <> 'name')"
        );
        assert_eq!(
            keyword_at(
                "CREATE INDEX \"x USING y\" ON public.t USING btree (a)",
                "USING"
            ),
            Some(37)
        );
        assert_eq!(
            type_words("((a)::character varying) || EXTRACT(year FROM b)::text)"),
            ["character", "varying", "text", "year"]
        );
    }

    #[test]
    fn function_calls_are_found_outside_literals() {
        assert!(calls_function("nextval('users_id_seq'::regclass)"));
        assert!(calls_function("gen_random_uuid ()"));
        assert!(!calls_function("(0)::numeric / 100"));
        assert!(!calls_function("'f(x)'::text"));
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    // Review: a column name holding `$hoist_sync$` ended the trigger
    // function's body, and what followed ran as the migrator.
    #[test]
    fn a_name_holding_the_body_quote_ended_the_trigger_body() {
        assert_eq!(dollar_tag("hoist_sync", "NEW.\"id\""), "$hoist_sync$");
        assert_eq!(
            dollar_tag("hoist_sync", "NEW.\"a$hoist_sync$b\""),
            "$hoist_sync_2$"
        );
    }
}
