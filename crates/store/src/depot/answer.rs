//! The two answers of a host's side of shipping, one typed protocol read
//! by the deploying machine ([`hoist_fleet`'s `ship`]) and written by the
//! host (`hoist fleet need`, `hoist fleet receive`).

use crate::ReleaseId;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a host lacks of a release (`hoist fleet need`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// The release asked about.
    pub release: ReleaseId,
    /// Its manifest digest.
    pub digest: String,
    /// Distinct file contents the release holds.
    pub files: u64,
    /// How many of them the host can already produce (older releases'
    /// files, parts from an earlier transfer).
    pub have: u64,
    /// The digests it cannot: send these.
    pub missing: Vec<String>,
    /// Their bytes, uncompressed.
    pub missing_bytes: u64,
    /// The assembled artifact, when the host already has it whole: then
    /// nothing needs sending.
    pub artifact: Option<PathBuf>,
}

/// What a host made of a transfer (`hoist fleet receive`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    /// The release shipped.
    pub release: ReleaseId,
    /// Its manifest digest (the same on every host).
    pub digest: String,
    /// The assembled artifact, for `hoist deploy`; `None` while files are missing.
    pub artifact: Option<PathBuf>,
    /// Files this transfer carried.
    pub received_files: u64,
    /// Their bytes, uncompressed.
    pub received_bytes: u64,
    /// Digests the host still lacks: local copies found damaged while
    /// assembling (their parts are gone, so the next transfer sends them).
    pub missing: Vec<String>,
}
