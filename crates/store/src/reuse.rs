//! Which files of the previous release a new one may hard-link instead of
//! writing: those the two manifests agree are unchanged *and* whose bytes
//! on disk still match the digest. A file edited in place in the live
//! release (a planted line) must not be carried into every release after
//! it as "unchanged"; it is written fresh from the artifact instead, and
//! named, so the deploy can say so.
//!
//! The proof is cheap when it can be: a file whose `stat` still equals the
//! stamp its release took at the seal ([`Stamps`]) has not been written
//! since, and is linked after one `stat`. Only files without a matching
//! stamp are read and hashed, on all cores.

use crate::hash::hash_reader;
use crate::{Entry, EntryKind, Manifest, Stamps};
use hoist_beneath::Dir;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The outcome of the check.
#[derive(Debug, Default)]
pub(crate) struct Reusable {
    /// Paths whose previous copy may be linked.
    pub(crate) paths: HashSet<String>,
    /// Paths the previous manifest calls unchanged whose copy no longer
    /// matches it (content or mode).
    pub(crate) stale: Vec<String>,
    /// Candidates whose stamp did not hold, so they were read and hashed.
    pub(crate) hashed: u64,
}

/// Checks every file of `new` that `old` (the manifest of the release in
/// `previous`) lists with the same digest, size and mode.
pub(crate) fn check(previous: &Dir, old: &Manifest, new: &Manifest) -> Reusable {
    let stamps = Stamps::read(previous).unwrap_or_default();
    let candidates: Vec<&Entry> = new
        .files
        .iter()
        .filter(|entry| unchanged_in(old, entry))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8);
    let chunk = candidates.len().div_ceil(threads).max(1);
    // Per candidate: (holds, had to be hashed).
    let verdicts: Vec<Vec<(&Entry, bool, bool)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = candidates
            .chunks(chunk)
            .map(|entries| {
                let stamps = &stamps;
                scope.spawn(move || {
                    entries
                        .iter()
                        .map(|entry| match proof(previous, stamps, entry) {
                            Proof::Stamp => (*entry, true, false),
                            Proof::Digest(holds) => (*entry, holds, true),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    let mut reusable = Reusable::default();
    for (entry, holds, hashed) in verdicts.into_iter().flatten() {
        reusable.hashed += u64::from(hashed);
        if holds {
            reusable.paths.insert(entry.path.clone());
        } else {
            reusable.stale.push(entry.path.clone());
        }
    }
    reusable.stale.sort();
    reusable
}

/// Whether `old` lists `entry` as a byte- and mode-identical file.
fn unchanged_in(old: &Manifest, entry: &Entry) -> bool {
    entry.kind == EntryKind::File
        && old.entry(&entry.path).is_some_and(|old| {
            old.kind == EntryKind::File
                && old.blake3 == entry.blake3
                && old.size == entry.size
                && old.mode == entry.mode
        })
}

/// How a candidate was proven (or not) to still be what the manifest says.
enum Proof {
    /// Its `stat` equals its seal stamp: nothing wrote to it since.
    Stamp,
    /// It was read and hashed: whether size and digest match.
    Digest(bool),
}

/// Opens the file at `entry`'s path under `previous` (reached through no
/// symlink) once: its stamp is checked on the open file, and only when it
/// does not hold are its bytes hashed. Missing or unreadable: no.
fn proof(previous: &Dir, stamps: &Stamps, entry: &Entry) -> Proof {
    let Ok(mut file) = previous.open_file(Path::new(&entry.path)) else {
        return Proof::Digest(false);
    };
    // A link shares the mode too: a file chmodded since (a script that lost
    // its `+x`) is written fresh, whatever its bytes.
    // One `fstat` serves both proofs.
    let Ok(metadata) = file.metadata() else {
        return Proof::Digest(false);
    };
    if metadata.permissions().mode() & 0o7777 != crate::release_mode(entry.mode) {
        return Proof::Digest(false);
    }
    if stamps.holds_metadata(&entry.path, &metadata) {
        return Proof::Stamp;
    }
    Proof::Digest(hash_reader(&mut file).is_ok_and(|(size, digest)| {
        size == entry.size && entry.blake3.as_deref() == Some(digest.as_str())
    }))
}
