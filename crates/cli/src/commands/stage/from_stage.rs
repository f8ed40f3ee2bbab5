//! `--from-stage NAME`: the artifact another stage runs, checked.

use crate::cli::Global;
use crate::fleet_progress::FleetProgress;
use std::path::{Path, PathBuf};

/// The artifact `from` runs: `given` if it is that one (else refused),
/// or `dist/<id>.tar.zst`, fetched from one of its hosts when missing;
/// with `[parity]`, the gate that compares each target host's runtime
/// with the one `from` recorded for the release.
pub fn artifact_of(
    global: &Global,
    from: &str,
    given: Option<&Path>,
    target: &super::Named,
) -> anyhow::Result<(PathBuf, Option<hoist_fleet::ParityGate>)> {
    let source = super::named(global, from)?;
    let runtime = super::runtime()?;
    let progress = FleetProgress::new(&[], true);
    let running = runtime.block_on(hoist_fleet::running(
        from,
        &source.stage,
        source.reach.clone(),
        &progress,
    ))?;
    let gate = match &target.config.parity {
        Some(parity) => Some(hoist_fleet::ParityGate {
            from: from.to_owned(),
            reference: runtime.block_on(hoist_fleet::parity_reference(
                &source.stage,
                source.reach.clone(),
                &running.release,
                &progress,
            ))?,
            strict: parity.strict,
        }),
        None => None,
    };
    if let Some(given) = given {
        running.matches(from, given)?;
        return Ok((given.to_owned(), gate));
    }
    let dist = target.base.join("dist");
    Ok((runtime.block_on(running.fetch_into(from, &dist))?, gate))
}
