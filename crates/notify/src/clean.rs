//! Making a message's text safe to send: no control characters (an ANSI
//! escape in a `--reason`, a carriage return in hook output), newlines
//! only where the format has lines, and notes and details bounded, since
//! hook output or notes between far-apart releases may be megabytes.
//!
//! ```
//! use hoist_notify::clean;
//! assert_eq!(clean::line("red\x1b[31m\nnow"), "red\u{fffd}[31m now");
//! assert_eq!(clean::slack("<!channel> & co"), "&lt;!channel&gt; &amp; co");
//! ```

/// The most kept of a message's notes or its failure detail (bytes).
pub const MAX_BLOCK: usize = 16 * 1024;

/// `text` on one line: newlines and tabs become spaces, other control
/// characters the replacement character.
pub fn line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => ' ',
            '\r' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// `text` as lines: newlines and tabs kept, other control characters
/// (carriage returns, escapes) replaced, and cut at [`MAX_BLOCK`] bytes
/// with a mark saying how much was left out.
pub fn block(text: &str) -> String {
    let mut cut = text.len().min(MAX_BLOCK);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out: String = text[..cut]
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c,
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    if cut < text.len() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("… truncated ({} bytes more)\n", text.len() - cut));
    }
    out
}

/// `text` escaped for Slack's `text` field: `&`, `<` and `>` are markup
/// there (`<!channel>` pings a whole channel), so they are sent as entities.
pub fn slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_notes_are_cut_with_a_truncation_mark() {
        // Hook output or notes of megabytes went whole into every message.
        let notes = "é".repeat(MAX_BLOCK); // two bytes each: cut mid-character
        let kept = block(&notes);
        assert!(kept.len() < MAX_BLOCK + 100, "{}", kept.len());
        assert!(
            kept.ends_with("bytes more)\n"),
            "{}",
            &kept[kept.len() - 40..]
        );
    }

    #[test]
    fn escapes_and_carriage_returns_are_replaced_newlines_kept() {
        // ANSI escapes in a reason reached the receiver raw.
        assert_eq!(block("a\x1b[2J\r\nb\n"), "a\u{fffd}[2J\u{fffd}\nb\n");
        assert_eq!(line("a\nb\x07"), "a b\u{fffd}");
    }
}
