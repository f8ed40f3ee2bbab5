//! `hoist fleet need`: which file contents of a release this host lacks.
//! Reads the release's manifest on stdin (JSON, or zstd-compressed JSON),
//! answers a [`hoist_store::depot::Need`].

use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_store::depot::{wire, Depot, Need};

struct Answer(Need);

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl Render for Answer {
    fn human(&self, out: &mut String) {
        output::field(out, "release", self.0.release.as_str());
        output::field(
            out,
            "have",
            format!("{} of {} files", self.0.have, self.0.files),
        );
        output::field(
            out,
            "missing",
            format!(
                "{} files, {}",
                self.0.missing.len(),
                output::bytes(self.0.missing_bytes)
            ),
        );
    }
}

pub fn exec(global: &Global) -> anyhow::Result<i32> {
    let depot = open_depot(global)?;
    let manifest = wire::read_manifest(&mut std::io::stdin().lock())?;
    let need = depot.need(&manifest)?;
    Output::new(global.json).emit(&Answer(need))?;
    Ok(crate::EXIT_OK)
}

/// The site's `fleet/` depot; the site must exist (`hoist setup --stage`
/// makes it), and nothing is written outside `fleet/`.
pub fn open_depot(global: &Global) -> anyhow::Result<Depot> {
    let root = crate::target::root(global, None)?;
    let site = hoist_site::Site::open(&root).map_err(|error| {
        crate::Failure::new("no-site", format!("{error}"))
            .hint("hoist setup --stage NAME (from the deploying machine)")
    })?;
    Ok(Depot::open(&site.fleet_dir(), &site.releases_dir())?)
}
