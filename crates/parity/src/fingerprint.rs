//! A host's runtime fingerprint: what each probe printed, and the database
//! server's version, with where and when it was taken.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// How to run the probes of one site.
#[derive(Debug, Clone)]
pub struct Probing {
    /// `[parity] probes`, each run with `sh -c`.
    pub commands: Vec<String>,
    /// The site's environment (its env file, `HOIST_ROOT`, `HOIST_RELEASE`),
    /// over hoist's own.
    pub env: Vec<(String, String)>,
    /// Where they run: the release's directory, so a probe can be a script
    /// the release ships.
    pub dir: PathBuf,
    /// How long one probe may run.
    pub timeout: Duration,
}

/// The runtime a release met on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The release it was taken for, if any.
    pub release: Option<String>,
    /// The host it was taken on.
    pub host: String,
    /// When.
    pub taken_at: jiff::Timestamp,
    /// Each probe's output, in `[parity] probes` order.
    pub probes: Vec<ProbeOutput>,
    /// The database server's version as the server says it, or why it
    /// could not be read; `None` without a `[database]`.
    pub database: Option<String>,
}

/// What one probe printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOutput {
    /// The command.
    pub command: String,
    /// Its stdout then stderr, trailing whitespace trimmed; or why it has none.
    pub output: String,
    /// Its exit code; `None` when it could not run, was killed, or timed out.
    pub exit: Option<i32>,
}

impl Fingerprint {
    /// Runs every probe of `probing`, one after the other, and adds
    /// `database` (the server's version, read by the caller).
    pub fn take(probing: &Probing, release: Option<&str>, database: Option<String>) -> Fingerprint {
        let probes = probing
            .commands
            .iter()
            .map(|command| crate::probe::run(command, &probing.env, &probing.dir, probing.timeout))
            .collect();
        Fingerprint {
            release: release.map(str::to_owned),
            host: hoist_site::host_name(),
            taken_at: jiff::Timestamp::now(),
            probes,
            database,
        }
    }
}
