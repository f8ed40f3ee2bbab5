//! Crafted artifacts: a correctly sealed manifest with whatever tar
//! entries a test (or an attacker) wants behind it.

use hoist_store::{Entry, EntryKind, Manifest, ReleaseId, MANIFEST_NAME};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One tar entry of a crafted artifact: raw name, type, content.
pub struct Raw {
    pub name: String,
    pub kind: tar::EntryType,
    pub data: Vec<u8>,
    pub link: Option<String>,
}

pub fn file(name: &str, data: &[u8]) -> Raw {
    Raw {
        name: name.into(),
        kind: tar::EntryType::Regular,
        data: data.to_vec(),
        link: None,
    }
}

/// A directory entry of the tar stream.
pub fn dir(name: &str) -> Raw {
    Raw {
        name: name.into(),
        kind: tar::EntryType::Directory,
        data: Vec::new(),
        link: None,
    }
}

/// A symlink entry of the tar stream.
pub fn symlink(name: &str, target: &str) -> Raw {
    Raw {
        name: name.into(),
        kind: tar::EntryType::Symlink,
        data: Vec::new(),
        link: Some(target.into()),
    }
}

/// The manifest entry for a directory.
pub fn dir_entry(path: &str) -> Entry {
    Entry {
        path: path.into(),
        kind: EntryKind::Dir,
        mode: 0o755,
        size: 0,
        blake3: None,
        target: None,
    }
}

/// The manifest entry for a symlink.
pub fn link_entry(path: &str, target: &str) -> Entry {
    Entry {
        path: path.into(),
        kind: EntryKind::Symlink,
        mode: 0o777,
        size: 0,
        blake3: None,
        target: Some(target.into()),
    }
}

pub fn file_entry(path: &str, data: &[u8]) -> Entry {
    Entry {
        path: path.into(),
        kind: EntryKind::File,
        mode: 0o644,
        size: data.len() as u64,
        blake3: Some(blake3::hash(data).to_hex().to_string()),
        target: None,
    }
}

/// Writes an artifact with a correctly sealed manifest listing `listed`,
/// followed by the raw `entries`, exactly as given.
pub fn craft(dir: &Path, listed: Vec<Entry>, entries: Vec<Raw>) -> PathBuf {
    craft_as(dir, "29990101T000000Z-9.9.9-evil", listed, entries)
}

/// [`craft`] with release id `id`, written to `<dir>/<id>.tar.zst`.
pub fn craft_as(dir: &Path, id: &str, listed: Vec<Entry>, entries: Vec<Raw>) -> PathBuf {
    let mut manifest = Manifest {
        format: Manifest::FORMAT,
        release: ReleaseId::parse(id).unwrap(),
        app: "shop".into(),
        version: "9.9.9".into(),
        revision: None,
        dirty: false,
        created_at: "2999-01-01T00:00:00Z".parse().unwrap(),
        files: listed,
        content_digest: String::new(),
        digest: String::new(),
    };
    manifest.files.sort_by(|a, b| a.path.cmp(&b.path));
    manifest.seal();
    let path = dir.join(format!("{id}.tar.zst"));
    let mut encoder = zstd::Encoder::new(std::fs::File::create(&path).unwrap(), 3).unwrap();
    encoder.include_checksum(true).unwrap();
    let mut tar = tar::Builder::new(encoder);
    let json = manifest.to_json();
    let mut all = vec![file(MANIFEST_NAME, &json)];
    all.extend(entries);
    for raw in all {
        append_raw(&mut tar, &raw);
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    path
}

/// Writes the raw `entries` as a plain tar at `path`, exactly as given: a
/// foreign tarball, hostile if the test wants.
pub fn plain_tar(path: &Path, entries: Vec<Raw>) {
    let mut tar = tar::Builder::new(std::fs::File::create(path).unwrap());
    for raw in entries {
        append_raw(&mut tar, &raw);
    }
    tar.into_inner().unwrap().flush().unwrap();
}

/// Appends `raw` exactly as given: raw header bytes, so hostile names and
/// links the `tar` crate's checked setters would refuse go in as they are.
fn append_raw<W: Write>(tar: &mut tar::Builder<W>, raw: &Raw) {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..raw.name.len()].copy_from_slice(raw.name.as_bytes());
    header.set_entry_type(raw.kind);
    header.set_mode(0o644);
    header.set_size(raw.data.len() as u64);
    if let Some(link) = &raw.link {
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_cksum();
    tar.append(&header, raw.data.as_slice()).unwrap();
}
