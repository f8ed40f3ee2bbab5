//! The end of a command's output as hoist shows it: in an error on the
//! terminal, in `--json`, in the ledger and in notifications.
//!
//! Bounded and made inert here, once, before it goes anywhere: a command
//! may print megabytes on one line, or escape codes that clear the
//! operator's screen and print a fake "deploy ok" (a user trial did both).

/// At most this many lines.
const LINES: usize = 20;
/// Each line at most this many characters; a longer one keeps its start
/// and its end, with `…` between.
const LINE_CHARS: usize = 300;
/// All lines together at most this many bytes; older lines go first.
const BYTES: usize = 4096;
/// Marks what was left out.
const CUT: char = '…';

/// The last lines of `output`: at most [`LINES`] lines of at most
/// [`LINE_CHARS`] characters, [`BYTES`] in all, control characters
/// replaced; a first line `…` says earlier lines were left out.
pub(crate) fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.len().saturating_sub(LINES);
    let mut kept: Vec<String> = lines[start..].iter().map(|line| shown(line)).collect();
    let mut dropped = start > 0;
    while kept.len() > 1 && kept.iter().map(|line| line.len() + 1).sum::<usize>() > BYTES {
        kept.remove(0);
        dropped = true;
    }
    if dropped {
        kept.insert(0, CUT.to_string());
    }
    kept.join("\n")
}

/// `text` with every character [`inert`]: for names a process chose
/// itself (its `comm`).
pub(crate) fn inert_text(text: &str) -> String {
    text.chars().map(inert).collect()
}

/// One line, inert and bounded.
fn shown(line: &str) -> String {
    let chars: Vec<char> = line.chars().map(inert).collect();
    if chars.len() <= LINE_CHARS {
        return chars.into_iter().collect();
    }
    let half = LINE_CHARS / 2;
    let head = chars[..half].iter();
    let end = chars[chars.len() - half..].iter();
    head.chain(std::iter::once(&CUT)).chain(end).collect()
}

/// A character that does nothing to a terminal: a tab becomes a space;
/// control characters (escape codes, carriage returns) and the Unicode
/// controls that reorder text become `�`.
fn inert(c: char) -> char {
    match c {
        '\t' => ' ',
        c if c.is_control() => char::REPLACEMENT_CHARACTER,
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            char::REPLACEMENT_CHARACTER
        }
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_codes_are_replaced() {
        assert_eq!(
            tail("ok\n\u{1b}[2J\u{1b}[31mFAKE\r\tx\n"),
            "ok\n�[2J�[31mFAKE� x"
        );
    }

    #[test]
    fn a_long_line_keeps_its_start_and_end() {
        let line = format!("start{}end", "x".repeat(1_000_000));
        let shown = tail(&line);
        assert_eq!(shown.chars().count(), LINE_CHARS + 1);
        assert!(shown.starts_with("start") && shown.ends_with("end") && shown.contains(CUT));
    }

    #[test]
    fn lines_and_bytes_are_bounded() {
        let many: String = (0..100).map(|n| format!("line {n}\n")).collect();
        let shown = tail(&many);
        assert_eq!(shown.lines().count(), LINES + 1);
        assert!(shown.starts_with("…\nline 80\n") && shown.ends_with("line 99"));
        let wide: String = (0..20)
            .map(|n| format!("{n} {}\n", "y".repeat(400)))
            .collect();
        let shown = tail(&wide);
        assert!(shown.len() <= BYTES + CUT.len_utf8() + 1, "{}", shown.len());
        assert!(shown.starts_with("…\n") && shown.contains("19 y"));
    }
}
