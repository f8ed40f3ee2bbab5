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
    version: &'static str,
    build: String,
    arch: &'static str,
    os: &'static str,
}

impl Render for Version {
    fn human(&self, out: &mut String) {
        output::field(out, "version", self.version);
        output::field(out, "build", &self.build);
        output::field(out, "arch", self.arch);
    }
}

/// This process's own version.
pub fn current() -> anyhow::Result<Version> {
    let exe = std::env::current_exe()?;
    // Streamed, not read whole: every `status --stage` asks each host this.
    let digest = blake3::Hasher::new()
        .update_reader(std::fs::File::open(&exe)?)?
        .finalize();
    Ok(Version {
        version: env!("CARGO_PKG_VERSION"),
        build: digest.to_hex().to_string(),
        arch: std::env::consts::ARCH,
        os: std::env::consts::OS,
    })
}

pub fn exec(global: &Global) -> anyhow::Result<i32> {
    Output::new(global.json).emit(&current()?)?;
    Ok(crate::EXIT_OK)
}
