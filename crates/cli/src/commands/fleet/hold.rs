//! `hoist fleet hold`: holds this host's fleet lock for one fleet
//! operation, for as long as the deploying machine keeps stdin open.
//!
//! The lock is an flock held by this process, so it ends with the ssh
//! channel that runs it: a deploying machine that dies or loses its
//! connection leaves no lock behind.

use crate::cli::Global;
use serde::Serialize;
use std::io::{Read, Write};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet operation id.
    #[arg(long)]
    op: String,
    /// Who runs it, `user@machine`.
    #[arg(long)]
    by: String,
    /// What it does, e.g. `deploy 20261122T101500Z-1.4.2-a1b2c3d to production`.
    #[arg(long)]
    command: String,
}

#[derive(Serialize)]
struct Held<'a> {
    held: bool,
    op: &'a str,
    host: String,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let root = crate::target::root(global, None)?;
    let site = hoist_site::Site::open(&root).map_err(|error| {
        crate::Failure::new("no-site", format!("{error}"))
            .hint("hoist setup --stage NAME (from the deploying machine)")
    })?;
    let lock = hoist_site::FleetLock::acquire(&site, &args.op, &args.by, &args.command)?;
    let held = Held {
        held: true,
        op: &args.op,
        host: hoist_site::host_name(),
    };
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, &held)?;
    stdout.write_all(b"\n")?;
    stdout.flush()?;
    drop(stdout);
    // Held until the deploying machine closes our stdin (or its ssh
    // channel goes away, which closes it too).
    let _ = std::io::copy(
        &mut std::io::stdin().lock().take(u64::MAX),
        &mut std::io::sink(),
    );
    lock.release()?;
    Ok(crate::EXIT_OK)
}
