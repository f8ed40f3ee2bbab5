//! File operations confined beneath one directory, following no symlink.
//!
//! hoist runs as root and writes trees whose shape comes from an artifact
//! (the release) or from configuration (shared links). A path such as
//! `config/secrets.env` is only safe to create, replace or delete if no
//! component of it is a symlink: `config -> ../../../etc` would otherwise
//! carry the operation out of the site. [`Dir`] is an open directory that
//! every path is resolved against, with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` where the kernel has it (Linux 5.6+) and a walk
//! that opens each component with `O_NOFOLLOW` where it does not. A path
//! that meets a symlink on the way fails with `ELOOP` ([`is_through_link`]);
//! no operation here ever acts on what a link points to.
//!
//! - [`Dir`]: the anchor and the operations (create, open, link, remove, walk);
//! - `resolve`: how one relative path becomes a file descriptor;
//! - `remove`: recursive removal by file descriptor;
//! - `walk`: listing a tree by file descriptor.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let release = hoist_beneath::Dir::open("/srv/shop/releases/x.partial".as_ref())?;
//! release.create_dir("config".as_ref(), 0o755)?;
//! release.symlink("../../../shared/config/secrets.env".as_ref(), "config/secrets.env".as_ref())?;
//! // Fails with ELOOP if `config` had been a symlink: nothing outside is touched.
//! # Ok(()) }
//! ```

mod remove;
mod resolve;
mod walk;

use rustix::fs::{AtFlags, Mode, OFlags};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use walk::{Entry, Kind};

/// An open directory that paths are resolved beneath.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    /// For messages only; operations never use it.
    path: PathBuf,
}

/// Whether `error` says a path ran into a symlink (or out of its anchor),
/// which is how every operation here refuses to follow one.
pub fn is_through_link(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(code) if code == rustix::io::Errno::LOOP.raw_os_error()
            || code == rustix::io::Errno::XDEV.raw_os_error()
    )
}

impl Dir {
    /// Opens `path` as the anchor. The anchor itself is trusted (it is the
    /// site's own directory); only paths beneath it are confined.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Dir {
            fd,
            path: path.to_owned(),
        })
    }

    /// Where the anchor was opened, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory at `relative`, as an anchor of its own.
    pub fn open_dir(&self, relative: &Path) -> io::Result<Dir> {
        let fd = resolve::open(
            &self.fd,
            relative,
            // Not `O_NOFOLLOW`: with `O_DIRECTORY` a link would fail as
            // "not a directory"; the confinement refuses it as a link.
            OFlags::DIRECTORY | OFlags::RDONLY,
            Mode::empty(),
        )?;
        Ok(Dir {
            fd,
            path: self.path.join(relative),
        })
    }

    /// Creates the directory `relative` with exactly `mode` (no umask).
    pub fn create_dir(&self, relative: &Path, mode: u32) -> io::Result<()> {
        let (parent, name) = resolve::parent(&self.fd, relative)?;
        rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(mode & 0o7777))?;
        self.set_mode(relative, mode)
    }

    /// Creates the new file `relative` (it must not exist) with exactly `mode`.
    pub fn create_file(&self, relative: &Path, mode: u32) -> io::Result<File> {
        let fd = resolve::open(
            &self.fd,
            relative,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW,
            Mode::from_raw_mode(mode & 0o7777),
        )?;
        // The mode given to open is masked by the umask; the tree must have exactly `mode`.
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o7777))?;
        Ok(File::from(fd))
    }

    /// Opens the regular file `relative` for reading; a symlink there is refused.
    pub fn open_file(&self, relative: &Path) -> io::Result<File> {
        let fd = resolve::open(
            &self.fd,
            relative,
            OFlags::RDONLY | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
    }

    /// Creates the symlink `relative` pointing to `target` (the target is
    /// stored as given; checking where it leads is the caller's business).
    pub fn symlink(&self, target: &Path, relative: &Path) -> io::Result<()> {
        let (parent, name) = resolve::parent(&self.fd, relative)?;
        rustix::fs::symlinkat(target, &parent, name)?;
        Ok(())
    }

    /// Hard-links the regular file `source_relative` under `source` to
    /// `relative` here. Anything but a regular file is refused.
    pub fn hard_link_from(
        &self,
        source: &Dir,
        source_relative: &Path,
        relative: &Path,
    ) -> io::Result<()> {
        let (from, from_name) = resolve::parent(&source.fd, source_relative)?;
        let stat = rustix::fs::statat(&from, from_name, AtFlags::SYMLINK_NOFOLLOW)?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{}` is not a regular file", source_relative.display()),
            ));
        }
        let (to, to_name) = resolve::parent(&self.fd, relative)?;
        rustix::fs::linkat(&from, from_name, &to, to_name, AtFlags::empty())?;
        Ok(())
    }

    /// Renames `from` to `to`, both beneath the anchor: whatever file or
    /// link was at `to` is replaced in one step, as `rename(2)` does, so a
    /// reader sees the old one or the new one, never neither.
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = resolve::parent(&self.fd, from)?;
        let (to_dir, to_name) = resolve::parent(&self.fd, to)?;
        rustix::fs::renameat(&from_dir, from_name, &to_dir, to_name)?;
        Ok(())
    }

    /// Flushes the anchor's own entries (creations, renames) to disk.
    pub fn sync(&self) -> io::Result<()> {
        rustix::fs::fsync(&self.fd)?;
        Ok(())
    }

    /// What is at `relative` itself (a symlink is described, not followed).
    pub fn metadata(&self, relative: &Path) -> io::Result<Metadata> {
        let fd = resolve::open(
            &self.fd,
            relative,
            OFlags::PATH | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        File::from(fd).metadata()
    }

    /// The target of the symlink at `relative`.
    pub fn read_link(&self, relative: &Path) -> io::Result<PathBuf> {
        let (parent, name) = resolve::parent(&self.fd, relative)?;
        let target = rustix::fs::readlinkat(&parent, name, Vec::new())?;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(
            target.as_bytes(),
        )))
    }

    /// Sets the permission bits of the file or directory at `relative`
    /// (never of what a symlink points to).
    pub fn set_mode(&self, relative: &Path, mode: u32) -> io::Result<()> {
        let fd = resolve::open(
            &self.fd,
            relative,
            OFlags::RDONLY | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o7777))?;
        Ok(())
    }

    /// Removes whatever is at `relative`: a file, a symlink (not its target)
    /// or a whole directory tree, read-only ones included.
    pub fn remove(&self, relative: &Path) -> io::Result<()> {
        let (parent, name) = resolve::parent(&self.fd, relative)?;
        remove::remove_at(&parent, name)
    }

    /// Every entry beneath the anchor, parents before children, names in
    /// byte order within a directory; directories are entered by file
    /// descriptor, symlinks are listed and never entered.
    pub fn walk(&self) -> io::Result<Vec<Entry>> {
        walk::walk(&self.fd)
    }
}

#[cfg(test)]
mod tests;
