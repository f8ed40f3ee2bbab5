//! Progress: bars on a terminal, plain `hoist: step: detail` lines otherwise.

use hoist_deploy::Reporter;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

/// Renders lifecycle progress on stderr.
pub struct Progress {
    quiet: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress {
    /// A reporter for this terminal; `quiet` keeps only warnings.
    pub fn new(quiet: bool) -> Progress {
        Progress {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    fn finish_bar(&self) {
        if let Some(bar) = self.bar.lock().expect("not poisoned").take() {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for Progress {
    fn step(&self, step: &str, detail: &str) {
        self.finish_bar();
        if !self.quiet {
            line(format_args!("hoist: {step}: {detail}"));
        }
    }

    fn advance(&self, done: u64, total: u64) {
        if self.quiet || !self.terminal {
            return;
        }
        let mut bar = self.bar.lock().expect("not poisoned");
        let bar = bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template("  {bar:40} {bytes}/{total_bytes} {eta}")
                .expect("valid template");
            bar.set_style(style);
            bar
        });
        bar.set_position(done);
    }

    fn warn(&self, message: &str) {
        self.finish_bar();
        line(format_args!("warning: {message}"));
    }
}

/// One line on stderr. A terminal that hung up (EIO) or a closed pipe must
/// not stop a deploy half-way, as `eprintln!` would by panicking.
fn line(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let text = text.to_string();
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}",
        crate::output::printable(&text)
    );
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish_bar();
    }
}
