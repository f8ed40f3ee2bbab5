//! A fleet operation's progress: one bar per host on a terminal, plain
//! `hoist: HOST: step: detail` lines otherwise.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Renders [`hoist_fleet::Progress`] on stderr.
pub struct FleetProgress {
    quiet: bool,
    bars: Option<(MultiProgress, Mutex<BTreeMap<String, ProgressBar>>)>,
}

impl FleetProgress {
    /// Bars for `hosts` on a terminal; `quiet` keeps only warnings.
    pub fn new(hosts: &[String], quiet: bool) -> FleetProgress {
        let bars = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::new();
            let style = ProgressStyle::with_template("{spinner} {prefix:<16} {wide_msg}")
                .expect("valid template");
            let bars = hosts
                .iter()
                .map(|host| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(host.clone());
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    (host.clone(), bar)
                })
                .collect();
            (multi, Mutex::new(bars))
        });
        FleetProgress { quiet, bars }
    }

    fn line(&self, text: std::fmt::Arguments<'_>) {
        // A host's answer is the host's text: never raw terminal controls.
        let text = crate::output::printable(&text.to_string()).into_owned();
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }
}

impl hoist_fleet::Progress for FleetProgress {
    fn host(&self, host: &str, step: &str, detail: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some((_, bars)) => {
                if let Some(bar) = bars.lock().expect("not poisoned").get(host) {
                    bar.set_message(format!("{step}: {detail}"));
                    if matches!(step, "done" | "failed") {
                        bar.finish();
                    }
                }
            }
            None => self.line(format_args!("hoist: {host}: {step}: {detail}")),
        }
    }

    fn note(&self, text: &str) {
        if !self.quiet {
            self.line(format_args!("hoist: {text}"));
        }
    }

    fn warn(&self, text: &str) {
        self.line(format_args!("warning: {text}"));
    }
}

impl Drop for FleetProgress {
    fn drop(&mut self) {
        if let Some((_, bars)) = &self.bars {
            for bar in bars.lock().expect("not poisoned").values() {
                bar.finish();
            }
        }
    }
}
