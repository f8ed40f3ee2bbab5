//! `hoist fleet <verb>`: what a deploying machine runs on each host of a
//! stage, over ssh (`hoist deploy --stage` and friends). Hidden: people
//! run the `--stage` commands; these are their remote halves, and every
//! one answers with `--json`.

mod data_receive;
mod data_target;
mod drained;
mod health;
mod hold;
mod live;
mod need;
mod parity;
mod receive;
mod site;
mod version;

use crate::cli::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// This hoist's version and build digest (a deploy refuses a host whose hoist differs)
    Version,
    /// Hold the site's fleet lock until stdin closes
    Hold(hold::Args),
    /// Probe the live release's health once
    Health(health::Args),
    /// Which file contents of the release whose manifest is on stdin this host lacks
    Need,
    /// Take in a release's missing files on stdin and assemble its artifact under `fleet/`
    Receive(receive::Args),
    /// The live release, its digest and its kept artifact
    Live,
    /// This host's runtime fingerprint for its live release, or the one recorded for --release
    Parity(parity::Args),
    /// Create the site layout at --root if missing
    Site,
    /// Note that a fleet operation drained this host, or that it is back
    Drained(drained::Args),
    /// Load a data version sent on stdin under the fleet's id
    DataReceive(data_receive::Args),
    /// The data version a roll or revert would go to, and the live one
    DataTarget(data_target::Args),
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    match args.verb {
        Verb::Version => version::exec(global),
        Verb::Hold(args) => hold::exec(global, args),
        Verb::Health(args) => health::exec(global, args),
        Verb::Need => need::exec(global),
        Verb::Receive(args) => receive::exec(global, args),
        Verb::Live => live::exec(global),
        Verb::Parity(args) => parity::exec(global, args),
        Verb::Site => site::exec(global),
        Verb::Drained(args) => drained::exec(global, args),
        Verb::DataReceive(args) => data_receive::exec(global, args),
        Verb::DataTarget(args) => data_target::exec(global, args),
    }
}
