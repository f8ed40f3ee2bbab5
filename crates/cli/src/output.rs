//! One printer per format: every result type renders itself as text, and
//! JSON comes from its `Serialize`, so the two cannot disagree on content.

use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write;

/// A result that can be shown to a person.
pub trait Render: Serialize {
    /// Writes the human form.
    fn human(&self, out: &mut String);
}

/// Where results go: text or JSON on stdout.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

/// For commands whose human output is one line on stderr: under `--json`,
/// the result as a JSON object on stdout too (callers parse stdout).
pub fn json_result(json: bool, value: &serde_json::Value) -> anyhow::Result<()> {
    if json {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, value)?;
        writeln!(stdout)?;
    }
    Ok(())
}

impl Output {
    /// `json` selects the JSON printer.
    pub fn new(json: bool) -> Output {
        Output { json }
    }

    /// Prints `value` in the selected format.
    pub fn emit<T: Render + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut stdout, value)?;
            writeln!(stdout)?;
        } else {
            let mut text = String::new();
            value.human(&mut text);
            stdout.write_all(printable(&text).as_bytes())?;
        }
        Ok(())
    }

    /// Prints `value`, then answers `code` (what the command found, e.g.
    /// 1 for a release that fails verify): a reader that closed the pipe
    /// early (`| head -1`) does not turn a failure into success.
    pub fn emit_then<T: Render + ?Sized>(&self, value: &T, code: i32) -> anyhow::Result<i32> {
        match self.emit(value) {
            Err(error) if crate::report::is_broken_pipe(&error) => Ok(code),
            other => other.map(|()| code),
        }
    }
}

/// `text` safe for a terminal: control characters other than newline and
/// tab (an ANSI escape in a release reason, a hook's output, a version
/// string) are shown as `\u{1b}`, never sent raw for the terminal to obey.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let raw = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.contains(raw) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if raw(c) {
            let _ = write!(safe, "\\u{{{:x}}}", c as u32);
        } else {
            safe.push(c);
        }
    }
    std::borrow::Cow::Owned(safe)
}

/// `text` on one line: [`printable`], with newlines shown as `\n`, so a
/// value someone typed (a reason) cannot start a line of its own and pass
/// for another entry.
pub fn one_line(text: &str) -> String {
    printable(text).replace('\n', "\\n")
}

/// `2026-11-22 10:15:00 UTC`, or `-`.
pub fn time(at: Option<jiff::Timestamp>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |at| at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// `12.3 MB`.
pub fn bytes(count: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{count} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// Appends `key: value` aligned like the rest of a status block.
pub fn field(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{key:>12}: {value}");
}

/// One `hook` line per `[hooks]` command that ran: `post_switch ok`, or
/// `post_switch FAILED (exit status: 1)`.
pub fn hooks(out: &mut String, hooks: &[hoist_deploy::HookRun]) {
    for ran in hooks {
        let how = match ran.ok {
            true => "ok".to_owned(),
            false => format!("FAILED ({})", ran.status),
        };
        field(out, "hook", format!("{} {how}", ran.hook));
    }
}

/// `30s`, `2h 5m`: a duration as a person writes it.
pub fn duration(duration: std::time::Duration) -> String {
    jiff::SignedDuration::try_from(duration)
        .map(|signed| format!("{signed:#}"))
        .unwrap_or_else(|_| format!("{}s", duration.as_secs()))
}

/// "1 generated path", "2 generated paths".
pub fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}
