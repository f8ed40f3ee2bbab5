//! `hoist fleet parity`: this host's runtime fingerprint for its live
//! release, taken now, as JSON (`hoist parity --stage`).

use crate::cli::Global;
use crate::output::{Output, Render};
use hoist_parity::Fingerprint;

/// The remote half only ever answers JSON; the human form is for a person
/// debugging it by hand.
struct Answer(Fingerprint);

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl Render for Answer {
    fn human(&self, out: &mut String) {
        out.push_str(&serde_json::to_string_pretty(&self.0).unwrap_or_default());
        out.push('\n');
    }
}

pub fn exec(global: &Global) -> anyhow::Result<i32> {
    let root = crate::target::root(global, None)?;
    let fingerprint = crate::commands::parity::fingerprint_at(&root)?;
    Output::new(global.json).emit(&Answer(fingerprint))?;
    Ok(crate::EXIT_OK)
}
