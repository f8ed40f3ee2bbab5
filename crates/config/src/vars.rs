//! `$NAME` and `${NAME}` in config values, and the `KEY=value` env file
//! they are looked up in.
//!
//! A value that names a variable is kept as written when parsed (the env
//! file lives under the site root, which only the command knows) and
//! expanded at use, so the secret it stands for is never written back into
//! `site.toml`, the ledger or any output. `$$` is a literal `$`.
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

/// `KEY=value` lines of an env file (`[process] env_file`); `#` comments
/// and blank lines are skipped, and quotes around a value are dropped.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let key = key.trim();
            // `export KEY=value`, as in a file written to be sourced (seed 002's ddgc_config.sh).
            let key = key.strip_prefix("export ").map_or(key, str::trim);
            (key.to_owned(), value.trim().trim_matches('"').to_owned())
        })
        .collect()
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
    fn env_file_lines_are_read_like_a_shell_would() {
        let text = "# secrets\nA=1\n\nexport B = \"two\"\nnot a line\n";
        assert_eq!(
            parse_env_file(text),
            [("A".into(), "1".into()), ("B".into(), "two".into())]
        );
    }
}
