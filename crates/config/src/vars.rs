//! `$NAME` and `${NAME}` in config values, and the `KEY=value` env file
//! they are looked up in.
//!
//! A value that names a variable is kept as written when parsed (the env
//! file lives under the site root, which only the command knows) and
//! expanded at use, so the secret it stands for is never written back into
//! `site.toml`, the ledger or any output. `$$` is a literal `$`. Its
//! syntax is checked while parsing ([`check_syntax`]), so a malformed
//! `${` is an error of the file, with its key and line, not a literal.
//!
//! ```
//! let url = hoist_config::expand("postgres://app@db/${DB}", |name| (name == "DB").then(|| "shop".into()));
//! assert_eq!(url.unwrap(), "postgres://app@db/shop");
//! ```

/// A value named a variable that is set nowhere it was looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVariable {
    /// The variable, without `$`.
    pub name: String,
}

/// True when `value` names a variable, so checks of its form wait until
/// it is expanded.
pub(crate) fn names_variable(value: &str) -> bool {
    value.contains('$')
}

/// Why `value` is not a well-formed value with variables: an unterminated
/// `${`, an empty or malformed `${...}`, or a `$` that starts no name
/// (a dollar sign is written `$$`).
pub(crate) fn check_syntax(value: &str) -> Result<(), String> {
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        rest = if let Some(escaped) = after.strip_prefix('$') {
            escaped
        } else if let Some(braced) = after.strip_prefix('{') {
            let Some((name, tail)) = braced.split_once('}') else {
                return Err(format!(
                    "has `${{` without a closing `}}` in `{value}`; write `${{NAME}}`"
                ));
            };
            if !is_name(name) {
                return Err(format!(
                    "has `${{{name}}}`, which is not a variable name (letters, digits, `_`); write `${{NAME}}`, or `$$` for a dollar sign"
                ));
            }
            tail
        } else if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            after
        } else {
            return Err(format!(
                "has a `$` that starts no variable name in `{value}`; write `$NAME` or `${{NAME}}`, or `$$` for a dollar sign"
            ));
        };
    }
    Ok(())
}

/// Deserializes a value that may name variables, refusing bad variable
/// syntax while parsing, so the error names the key and its line.
pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let value = <String as serde::Deserialize>::deserialize(deserializer)?;
    check_syntax(&value).map_err(serde::de::Error::custom)?;
    Ok(value)
}

/// [`deserialize`] for an optional value.
pub(crate) fn deserialize_opt<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    deserialize(deserializer).map(Some)
}

/// Expands `$NAME` and `${NAME}` in `value` with `lookup`.
pub fn expand(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, MissingVariable> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.split_once('}') {
                Some((name, tail)) if is_name(name) => (name, tail),
                _ => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if let Some(escaped) = after.strip_prefix('$') {
            out.push('$');
            rest = escaped;
        } else if is_name(name) {
            let found = lookup(name).ok_or_else(|| MissingVariable {
                name: name.to_owned(),
            })?;
            out.push_str(&found);
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `KEY=value` lines of an env file (`[process] env_file`), read the way
/// a shell reads the common forms, so a file written to be sourced gives
/// the same values here: blank lines and `#` lines are skipped; an
/// `export ` prefix is allowed; `'...'` is literal; `"..."` takes `\"`,
/// `\\`, `\$` and `` \` `` escapes; an unquoted value ends at ` #` (a
/// comment) and is trimmed. Lines without `=` are skipped.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let key = key.trim();
            // `export KEY=value`, as in a file written to be sourced (seed 002's ddgc_config.sh).
            let key = key.strip_prefix("export ").map_or(key, str::trim);
            (key.to_owned(), shell_value(value.trim_start()))
        })
        .collect()
}

/// One value as `sh` would read it: quoted parts joined with unquoted ones.
fn shell_value(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    // `after_space`: a `#` starts a comment; `kept`: quoted text ends here, never trimmed.
    let (mut after_space, mut kept) = (true, 0);
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                out.extend(chars.by_ref().take_while(|&c| c != '\''));
                kept = out.len();
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            out.extend(chars.next());
                        }
                        c => out.push(c),
                    }
                }
                kept = out.len();
            }
            '#' if after_space => break,
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
        after_space = c.is_whitespace();
    }
    let trimmed = kept.max(out.trim_end().len());
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DB" => Some("shop".into()),
            "HOST" => Some("10.0.0.5".into()),
            _ => None,
        }
    }

    #[test]
    fn both_forms_expand_and_a_missing_one_is_named() {
        assert_eq!(expand("$DB", env).unwrap(), "shop");
        assert_eq!(
            expand("http://${HOST}:80/$DB/x", env).unwrap(),
            "http://10.0.0.5:80/shop/x"
        );
        assert_eq!(expand("a$$b", env).unwrap(), "a$b");
        assert_eq!(expand("no vars", env).unwrap(), "no vars");
        assert_eq!(expand("$NOPE", env).unwrap_err().name, "NOPE");
        assert_eq!(expand("x${NOPE}y", env).unwrap_err().name, "NOPE");
    }

    #[test]
    fn bad_variable_syntax_is_refused() {
        for good in ["$A", "${A_1}", "x$$y", "http://h:${PORT}/x", "plain"] {
            assert_eq!(check_syntax(good), Ok(()), "{good}");
        }
        for bad in [
            "http://127.0.0.1:${PORT/healthz",
            "${}",
            "a $ b",
            "$1",
            "${A-B}",
            "x$",
        ] {
            assert!(check_syntax(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_file_quotes_comments_and_export_follow_the_shell() {
        let text = "export DDGC_DB_URL='postgres://u:p$w@h/db' # per host\n\
            A=plain value # note\n\
            B=\"say \\\"hi\\\" for \\$5\"\n\
            C=a#b\n\
            D=\n\
            E='it''s'\n\
            F=\"padded \"\n";
        let parsed = parse_env_file(text);
        let get = |key: &str| parsed.iter().find(|(k, _)| k == key).unwrap().1.clone();
        assert_eq!(get("DDGC_DB_URL"), "postgres://u:p$w@h/db");
        assert_eq!(get("A"), "plain value");
        assert_eq!(get("B"), "say \"hi\" for $5");
        assert_eq!(get("C"), "a#b");
        assert_eq!(get("D"), "");
        assert_eq!(get("E"), "its");
        assert_eq!(get("F"), "padded ");
    }

    #[test]
    fn env_file_lines_are_read_like_a_shell_would() {
        let text = "# secrets\nA=1\n\nexport B = \"two\"\nnot a line\n";
        assert_eq!(
            parse_env_file(text),
            [("A".into(), "1".into()), ("B".into(), "two".into())]
        );
    }
}
