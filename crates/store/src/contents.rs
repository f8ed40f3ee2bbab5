//! Reading chosen files' contents out of an artifact, without unpacking it:
//! what a deploying machine sends a host that lacks them ([`crate::depot`]).

use crate::seekable;
use crate::unpack::open_archive;
use crate::{Artifact, Entry, EntryKind, StoreError};
use std::collections::HashSet;
use std::fs::File;
use std::io::Read;

impl Artifact {
    /// Calls `each` once per distinct content digest in `wanted`, with the
    /// first file entry that has it and a reader over its bytes, in
    /// manifest order. With a frame index only those files' frames are
    /// decoded; without one the stream is read through. Nothing is held in
    /// memory beyond one buffer.
    pub fn each_file(
        &self,
        wanted: &HashSet<String>,
        each: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let path = self.path();
        let corrupt = |error: std::io::Error| StoreError::Corrupt {
            path: path.to_owned(),
            detail: error.to_string(),
        };
        let mut left = wanted.clone();
        let mut take = |entry: &Entry| {
            entry.kind == EntryKind::File
                && entry
                    .blake3
                    .as_ref()
                    .is_some_and(|digest| left.remove(digest))
        };
        let mut file = File::open(path).map_err(StoreError::io("cannot open artifact", path))?;
        let files = &self.manifest().files;
        if let Ok(Some(frames)) = seekable::read_index(&mut file) {
            if frames.len() == files.len() + 2 {
                for (entry, frame) in files.iter().zip(&frames[1..]) {
                    if !take(entry) {
                        continue;
                    }
                    let reader = seekable::open_frame(&file, *frame).map_err(corrupt)?;
                    let mut archive = tar::Archive::new(reader);
                    let mut entries = archive.entries().map_err(corrupt)?;
                    let mut tar_entry = match entries.next() {
                        Some(entry) => entry.map_err(corrupt)?,
                        None => return Err(corrupt(std::io::ErrorKind::UnexpectedEof.into())),
                    };
                    each(entry, &mut tar_entry)?;
                }
                return Ok(());
            }
        }
        let mut archive = open_archive(path)?;
        let entries = archive.entries().map_err(corrupt)?;
        for tar_entry in entries.skip(1) {
            let mut tar_entry = tar_entry.map_err(corrupt)?;
            let name = String::from_utf8_lossy(&tar_entry.path_bytes()).into_owned();
            let Some(entry) = self.manifest().entry(name.trim_end_matches('/')) else {
                continue;
            };
            if take(entry) {
                each(entry, &mut tar_entry)?;
            }
        }
        Ok(())
    }
}
