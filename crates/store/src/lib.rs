//! The release store: how a source tree becomes a verifiable artifact and
//! how an artifact becomes a release tree on disk.
//!
//! - [`pack`] walks a source dir, hashes every file with BLAKE3 and writes
//!   `<release-id>.tar.zst` whose first entry is the [`Manifest`].
//! - [`Artifact`] opens such a file, checks the manifest's own digest and the
//!   safety of every path *before* anything is written, then
//!   [`Artifact::unpack`] streams it into a directory, verifying each file's
//!   digest as it goes and hard-linking files unchanged since a previous
//!   release instead of writing them again.
//! - [`Generated`] records what a release's checks and tests wrote into it
//!   before the seal, and [`Stamps`] each shipped file's `stat` at the seal,
//!   both next to the manifest ([`GENERATED_NAME`], [`STAMPS_NAME`]).
//! - [`depot`] is a host's side of shipping a release over the wire: which
//!   file contents it lacks, and the artifact assembled from what it has
//!   and what it was sent; [`Artifact::each_file`] reads what to send.
//! - [`import`] turns a tarball made by another tool into an artifact.
//! - [`verify_tree`] compares a tree on disk against its manifest and that
//!   record; [`restore`] puts shipped files back from the artifact.
//!
//! ```no_run
//! # fn main() -> Result<(), hoist_store::StoreError> {
//! let built = hoist_store::pack(&hoist_store::PackOptions::new("shop", ".".as_ref(), "dist".as_ref()))?;
//! let artifact = hoist_store::Artifact::open(&built.artifact, u64::MAX)?;
//! artifact.unpack("/srv/shop/releases/x.partial".as_ref(), None, &mut |_| {})?;
//! # Ok(()) }
//! ```

mod contents;
pub mod depot;
mod error;
mod format;
mod generated;
mod hash;
mod import;
mod links;
mod manifest;
mod metadata;
mod pack;
mod paths;
mod release_id;
mod restore;
mod reuse;
mod seekable;
mod stamps;
mod unpack;
mod verify;

pub use error::StoreError;
pub use generated::{special_kind, Generated, GeneratedEntry};
pub use import::{import, ImportOptions, Imported};
pub use links::{check_links, LinkEscape};
pub use manifest::{Entry, EntryKind, Manifest, MANIFEST_NAME};
pub use metadata::{is_metadata, GENERATED_NAME, STAMPS_NAME};
pub use pack::{pack, PackOptions, Packed};
pub use release_id::ReleaseId;
pub use restore::{restore, Restored};
pub use stamps::{Stamp, Stamps};
pub use unpack::{Artifact, UnpackStats};
pub use verify::{file_matches, verify_tree, Drift, ModeChange};

/// Files in a release are never writable: a live tree is read-only (and
/// hard links shared between releases must never be edited in place). Nor
/// do they keep setuid, setgid or sticky bits: an artifact must not be able
/// to plant a root-owned setuid program on the host.
pub const fn release_mode(mode: u32) -> u32 {
    mode & 0o555
}
