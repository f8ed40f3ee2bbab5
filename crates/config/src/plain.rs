//! serde's type errors in plain words: `invalid type: string "five",
//! expected usize` becomes `must be a whole number, got the string "five"`,
//! which a person who never read serde's source can act on.

/// The plain form of a serde `invalid type`/`invalid value` message,
/// phrased to follow the key; `None` for any other message.
pub(crate) fn type_mismatch(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    let (got, expected) = rest.split_once(", expected ")?;
    Some(format!(
        "must be {}, got {}",
        expected_words(expected),
        got_words(got)
    ))
}

fn expected_words(expected: &str) -> String {
    let expected = expected.trim();
    let words = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "`true` or `false`",
        "a string" | "a borrowed string" => "a string in quotes",
        "a sequence" => "a list, like [\"a\", \"b\"]",
        "a map" => "a table",
        // bytesize's word for a size it cannot read.
        "parsable string" => "a size such as `10 GiB` or `500MB`",
        other if other.starts_with("struct ") => "a table",
        other => return other.to_owned(),
    };
    words.to_owned()
}

fn got_words(got: &str) -> String {
    let unquote = |text: &str| text.trim_matches('`').to_owned();
    if let Some(text) = got.strip_prefix("string ") {
        format!("the string {text}")
    } else if let Some(number) = got
        .strip_prefix("integer ")
        .or_else(|| got.strip_prefix("floating point "))
    {
        format!("the number {}", unquote(number))
    } else if let Some(value) = got.strip_prefix("boolean ") {
        unquote(value)
    } else {
        match got {
            "sequence" => "a list".to_owned(),
            "map" => "a table".to_owned(),
            other => other.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_it_in_plain_words() {
        assert_eq!(
            type_mismatch("invalid type: string \"five\", expected usize").as_deref(),
            Some("must be a whole number (0 or more), got the string \"five\"")
        );
        assert_eq!(
            type_mismatch("invalid type: integer `3`, expected a string").as_deref(),
            Some("must be a string in quotes, got the number 3")
        );
        assert_eq!(type_mismatch("unknown field `x`"), None);
    }
}
