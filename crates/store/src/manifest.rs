//! The manifest: what a release contains, down to each file's digest.

use crate::ReleaseId;
use serde::{Deserialize, Serialize};

/// The manifest's name: the artifact's first entry, and a file in every release tree.
pub const MANIFEST_NAME: &str = ".hoist-manifest.json";

/// Describes one release completely; its `digest` covers every other field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format version, so a future hoist can refuse what it cannot read.
    pub format: u32,
    /// The release id, fixed at build time.
    pub release: ReleaseId,
    /// `[app] name`.
    pub app: String,
    /// The version that went into the id.
    pub version: String,
    /// Git commit of the source, when it was a checkout.
    pub revision: Option<String>,
    /// Whether the checkout had uncommitted changes.
    pub dirty: bool,
    /// UTC build time.
    pub created_at: jiff::Timestamp,
    /// Every entry, sorted by path.
    pub files: Vec<Entry>,
    /// BLAKE3 over the entries alone: two builds of an unchanged tree share it.
    pub content_digest: String,
    /// BLAKE3 over all fields above (this one set to ""), so any edit is caught.
    pub digest: String,
}

/// One path in a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Relative path with `/` separators, no `..`.
    pub path: String,
    /// File, directory or symlink; nothing else is allowed in a release.
    pub kind: EntryKind,
    /// Permission bits as built (the release stores them without write bits).
    pub mode: u32,
    /// Size in bytes (files only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// BLAKE3 hex digest (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    /// Link target (symlinks only); always stays inside the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The three kinds of entry a release may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A relative symbolic link.
    Symlink,
}

fn is_zero(size: &u64) -> bool {
    *size == 0
}

impl Manifest {
    /// The current manifest format.
    pub const FORMAT: u32 = 1;

    /// Computes the digest over the entries only.
    pub fn compute_content_digest(files: &[Entry]) -> String {
        let mut hasher = blake3::Hasher::new();
        for entry in files {
            let line = serde_json::to_string(entry).expect("entries always serialize");
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        hasher.finalize().to_hex().to_string()
    }

    /// Computes the digest over every field but `digest` itself.
    pub fn compute_digest(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.digest.clear();
        let bytes = serde_json::to_vec(&unsigned).expect("manifests always serialize");
        blake3::hash(&bytes).to_hex().to_string()
    }

    /// Fills in both digests; call after the last change.
    pub fn seal(&mut self) {
        self.content_digest = Manifest::compute_content_digest(&self.files);
        self.digest = self.compute_digest();
    }

    /// Whether both digests match the content.
    pub fn is_intact(&self) -> bool {
        self.content_digest == Manifest::compute_content_digest(&self.files)
            && self.digest == self.compute_digest()
    }

    /// Total bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|entry| entry.size).sum()
    }

    /// Number of regular files.
    pub fn file_count(&self) -> usize {
        self.files
            .iter()
            .filter(|entry| entry.kind == EntryKind::File)
            .count()
    }

    /// Finds an entry by path; `files` is sorted so this is a binary search.
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        self.files
            .binary_search_by(|entry| entry.path.as_str().cmp(path))
            .ok()
            .map(|index| &self.files[index])
    }

    /// Reads a manifest from JSON; the caller checks [`Manifest::is_intact`].
    pub fn from_json(bytes: &[u8]) -> serde_json::Result<Manifest> {
        serde_json::from_slice(bytes)
    }

    /// Compact JSON, as stored in artifacts and release trees (a 10,000-file
    /// manifest is about 1 MB; pretty-printing would double what every deploy writes).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifests always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut manifest = Manifest {
            format: Manifest::FORMAT,
            release: ReleaseId::parse("20261122T101500Z-1-abc").unwrap(),
            app: "shop".into(),
            version: "1".into(),
            revision: None,
            dirty: false,
            created_at: "2026-11-22T10:15:00Z".parse().unwrap(),
            files: vec![Entry {
                path: "a.txt".into(),
                kind: EntryKind::File,
                mode: 0o644,
                size: 1,
                blake3: Some(blake3::hash(b"a").to_hex().to_string()),
                target: None,
            }],
            content_digest: String::new(),
            digest: String::new(),
        };
        manifest.seal();
        manifest
    }

    #[test]
    fn any_edit_breaks_the_digest() {
        let mut manifest = sample();
        assert!(manifest.is_intact());
        manifest.files[0].size = 2;
        assert!(!manifest.is_intact());
        let mut manifest = sample();
        manifest.app = "other".into();
        assert!(!manifest.is_intact());
    }

    #[test]
    fn json_round_trip_keeps_the_digest() {
        let manifest = sample();
        let back = Manifest::from_json(&manifest.to_json()).unwrap();
        assert!(back.is_intact());
        assert_eq!(back, manifest);
    }
}
