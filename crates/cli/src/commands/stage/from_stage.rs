//! `--from-stage NAME`: the artifact another stage runs, checked.

use crate::cli::Global;
use crate::fleet_progress::FleetProgress;
use std::path::{Path, PathBuf};

/// The artifact `from` runs: `given` if it is that one (else refused),
/// or `dist/<id>.tar.zst`, fetched from one of its hosts when missing.
pub fn artifact_of(
    global: &Global,
    from: &str,
    given: Option<&Path>,
    target: &super::Named,
) -> anyhow::Result<PathBuf> {
    let source = super::named(global, from)?;
    let runtime = super::runtime()?;
    let progress = FleetProgress::new(&[], true);
    let running = runtime.block_on(hoist_fleet::running(
        from,
        &source.stage,
        source.reach.clone(),
        &progress,
    ))?;
    if let Some(given) = given {
        running.matches(from, given)?;
        return Ok(given.to_owned());
    }
    let dist = target.base.join("dist");
    Ok(runtime.block_on(running.fetch_into(from, &dist))?)
}
