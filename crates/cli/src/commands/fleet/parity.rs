//! `hoist fleet parity [--release ID]`: this host's runtime fingerprint
//! for its live release, taken now (`hoist parity --stage`), or the one it
//! recorded for `ID` (a `--from-stage` promotion's reference and check).

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

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Answer the fingerprint recorded when RELEASE was deployed here, not one taken now.
    #[arg(long, value_name = "RELEASE")]
    release: Option<String>,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let root = crate::target::root(global, None)?;
    let fingerprint = match &args.release {
        None => crate::commands::parity::fingerprint_at(&root)?,
        Some(release) => hoist_parity::load(&root, release)?.ok_or_else(|| {
            crate::Failure::new(
                "no-parity-record",
                format!(
                    "`{}` has no runtime fingerprint of `{release}` (it records one when a deploy with `[parity]` stages it)",
                    root.display()
                ),
            )
        })?,
    };
    Output::new(global.json).emit(&Answer(fingerprint))?;
    Ok(crate::EXIT_OK)
}
