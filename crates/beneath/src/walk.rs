//! Listing a tree by file descriptor, entering no symlink.

use rustix::fs::{FileType, Mode, OFlags};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// One entry found by [`crate::Dir::walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the anchor.
    pub path: PathBuf,
    /// What it is; a symlink is reported as one and never entered.
    pub kind: Kind,
}

/// The kinds of entry a walk tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory (entered).
    Dir,
    /// A symbolic link (not entered).
    Symlink,
    /// Anything else: a device, a fifo, a socket.
    Other,
}

pub(crate) fn walk(anchor: &impl AsFd) -> io::Result<Vec<Entry>> {
    let root = rustix::fs::openat(
        anchor,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut found = Vec::new();
    visit(&root, &PathBuf::new(), &mut found)?;
    Ok(found)
}

fn visit(directory: &OwnedFd, prefix: &std::path::Path, found: &mut Vec<Entry>) -> io::Result<()> {
    let mut children = Vec::new();
    for entry in rustix::fs::Dir::read_from(directory)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        children.push(name.to_vec());
    }
    children.sort();
    for name in children {
        let name = std::ffi::OsStr::from_bytes(&name);
        let stat = rustix::fs::statat(directory, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        let path = prefix.join(name);
        found.push(Entry {
            path: path.clone(),
            kind,
        });
        if kind == Kind::Dir {
            let child = rustix::fs::openat(
                directory,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            visit(&child, &path, found)?;
        }
    }
    Ok(())
}
