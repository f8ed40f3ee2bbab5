//! Connecting to every host of a stage, a bounded number at a time, and
//! making sure each runs this very hoist.

use crate::{FleetError, Host, Progress, Reach};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Which hoist a machine runs: its version and a BLAKE3 of the executable,
/// so two builds that both say `0.1.0` are still told apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoistBuild {
    /// `CARGO_PKG_VERSION`.
    pub version: String,
    /// BLAKE3 of the executable.
    pub build: String,
    /// CPU architecture (`x86_64`).
    pub arch: String,
}

impl HoistBuild {
    /// The hoist running this process: what `hoist fleet version` answers
    /// on a host, and what every host must match. The executable is
    /// streamed through the hash, not read whole (a debug build is
    /// ~250 MB and `status --stage` asks every host).
    pub fn this_process() -> std::io::Result<HoistBuild> {
        let exe = std::env::current_exe()?;
        let digest = blake3::Hasher::new()
            .update_reader(std::fs::File::open(&exe)?)?
            .finalize();
        Ok(HoistBuild {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            build: digest.to_hex().to_string(),
            arch: std::env::consts::ARCH.to_owned(),
        })
    }
}

impl std::fmt::Display for HoistBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            // Not the git revision `hoist --version` prints: the digest of
            // the executable itself, which two builds of one commit differ in.
            "hoist {} ({}, executable blake3 {})",
            self.version,
            self.arch,
            &self.build[..self.build.len().min(12)]
        )
    }
}

/// Connects to `names` (at most `max_at_once` handshakes in flight: sshd's
/// `MaxStartups` and bastions refuse storms). All or nothing: the first
/// failure, in stage order, is the error, and nothing was changed anywhere.
pub async fn connect_all(
    names: &[String],
    reach: Arc<Reach>,
    max_at_once: usize,
    progress: &dyn Progress,
) -> Result<Vec<Host>, FleetError> {
    let gate = Arc::new(Semaphore::new(max_at_once.max(1)));
    let mut tasks = Vec::new();
    for name in names {
        progress.host(name, "connect", "opening ssh");
        let (gate, reach, name) = (gate.clone(), reach.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate
                .acquire_owned()
                .await
                .expect("the gate is never closed");
            Host::connect(&name, reach).await
        }));
    }
    let mut hosts = Vec::new();
    let mut first_error = None;
    for (task, name) in tasks.into_iter().zip(names) {
        match task.await.expect("connect tasks do not panic") {
            Ok(host) => {
                progress.host(name, "connect", "connected");
                hosts.push(host);
            }
            Err(error) => {
                progress.host(name, "failed", &error.to_string());
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(hosts),
    }
}

/// Refuses any host whose hoist is not `ours`, naming how to fix it.
pub async fn check_versions(
    hosts: &[Host],
    ours: &HoistBuild,
    stage: &str,
) -> Result<(), FleetError> {
    let checks = hosts.iter().map(|host| async move {
        let theirs = host_build(host).await?;
        match theirs {
            Some(theirs) if theirs == *ours => Ok(()),
            Some(theirs) => Err(FleetError::VersionMismatch {
                host: host.name.clone(),
                theirs: theirs.to_string(),
                ours: ours.to_string(),
                stage: stage.to_owned(),
            }),
            None => Err(FleetError::VersionMismatch {
                host: host.name.clone(),
                theirs: format!("no hoist at `{}`", host.hoist_path()),
                ours: ours.to_string(),
                stage: stage.to_owned(),
            }),
        }
    });
    for result in futures_util::future::join_all(checks).await {
        result?;
    }
    Ok(())
}

/// The host's hoist, or `None` when there is none at the stage's path.
pub async fn host_build(host: &Host) -> Result<Option<HoistBuild>, FleetError> {
    let output = host
        .raw(host.hoist_path())
        .args(["fleet", "version", "--json"])
        .stdin(openssh::Stdio::null())
        .output()
        .await;
    let output = match output {
        // 127 (no such program) comes back as this error, not a status.
        Err(openssh::Error::Remote(cause)) if cause.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        other => other.map_err(|error| host.lost("version check", error))?,
    };
    // 126: there, but not executable.
    if output.status.code() == Some(126) {
        return Ok(None);
    }
    // An older hoist without `fleet version` answers a usage error.
    if output.status.code() == Some(2) {
        return Ok(Some(HoistBuild {
            version: "older than fleets".to_owned(),
            build: "unknown".to_owned(),
            arch: "unknown".to_owned(),
        }));
    }
    host.answer("fleet version", output).map(Some)
}
