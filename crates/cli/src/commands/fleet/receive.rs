//! `hoist fleet receive`: takes in a release's missing files from stdin
//! (the stream of [`hoist_store::depot::wire`]) and assembles the artifact
//! `<root>/fleet/<release-id>.tar.zst` for `hoist deploy`; answers a
//! [`hoist_store::depot::Received`]. A cut transfer keeps what arrived.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_store::depot::Received;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The artifact's size on the sending machine: the room assembling needs.
    #[arg(long)]
    expect_bytes: Option<u64>,
}

struct Answer(Received);

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl Render for Answer {
    fn human(&self, out: &mut String) {
        let artifact = self
            .0
            .artifact
            .as_ref()
            .map(|path| path.display().to_string());
        output::field(out, "release", self.0.release.as_str());
        output::field(out, "artifact", artifact.as_deref().unwrap_or("-"));
        output::field(
            out,
            "received",
            format!(
                "{} files, {}",
                self.0.received_files,
                output::bytes(self.0.received_bytes)
            ),
        );
        output::field(out, "missing", format!("{} files", self.0.missing.len()));
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let depot = super::need::open_depot(global)?;
    let received = depot.receive(&mut std::io::stdin().lock(), args.expect_bytes)?;
    Output::new(global.json).emit(&Answer(received))?;
    Ok(crate::EXIT_OK)
}
