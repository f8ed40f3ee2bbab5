//! `hoist fleet version`: which hoist runs here, exactly.
//!
//! The build digest is BLAKE3 over the executable itself, so two builds
//! that both say `0.1.0` but differ are told apart: a fleet runs one hoist.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use serde::Serialize;

/// One host's hoist.
#[derive(Debug, Serialize)]
pub struct Version {
    #[serde(flatten)]
    build: hoist_fleet::HoistBuild,
    os: &'static str,
}

impl Render for Version {
    fn human(&self, out: &mut String) {
        output::field(out, "version", &self.build.version);
        output::field(out, "build", &self.build.build);
        output::field(out, "arch", &self.build.arch);
    }
}

pub fn exec(global: &Global) -> anyhow::Result<i32> {
    Output::new(global.json).emit(&Version {
        build: hoist_fleet::HoistBuild::this_process()?,
        os: std::env::consts::OS,
    })?;
    Ok(crate::EXIT_OK)
}
