//! How one relative path becomes a file descriptor, beneath an anchor and
//! through no symlink.
//!
//! With `openat2` the kernel does it in one call and refuses any symlink or
//! `..` on the way. Without it (kernels before 5.6, or a seccomp filter
//! that hides it) each component is opened with `O_PATH | O_NOFOLLOW` and
//! looked at before the next one is opened from it: slower, same answer.

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

/// Cleared the first time the kernel says it has no `openat2`.
static OPENAT2: AtomicBool = AtomicBool::new(true);

/// What `openat2` is told: stay beneath the anchor, follow no link at all.
const CONFINED: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// Turns the `openat2` fast path off or on again (tests of the fallback).
#[cfg(test)]
pub(crate) fn use_openat2(enabled: bool) {
    OPENAT2.store(enabled, Ordering::SeqCst);
}

/// Refuses anything but a non-empty path of plain names.
fn check(relative: &Path) -> io::Result<()> {
    let plain = !relative.as_os_str().is_empty()
        && relative
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "`{}` is not a plain relative path (no `/` at the start, no `.` or `..`)",
                relative.display()
            ),
        ))
    }
}

/// Opens `relative` beneath `anchor` with `flags` (`O_CLOEXEC` is added).
/// The last component is opened as `flags` say (`O_NOFOLLOW` refuses a
/// symlink there; `O_PATH | O_NOFOLLOW` opens the link itself).
pub(crate) fn open(
    anchor: &impl AsFd,
    relative: &Path,
    flags: OFlags,
    mode: Mode,
) -> io::Result<OwnedFd> {
    check(relative)?;
    let flags = flags | OFlags::CLOEXEC;
    if OPENAT2.load(Ordering::Relaxed) {
        match rustix::fs::openat2(anchor, relative, flags, mode, CONFINED) {
            Err(Errno::NOSYS) => OPENAT2.store(false, Ordering::Relaxed),
            // EAGAIN: a rename raced the lookup; the kernel asks us to retry.
            Err(Errno::AGAIN) => return open(anchor, relative, flags, mode),
            result => return result.map_err(io::Error::from),
        }
    }
    let (parent, name) = walk_parent(anchor, relative)?;
    // As with `RESOLVE_NO_SYMLINKS`, a link in last place is refused unless
    // the link itself is asked for (`O_PATH | O_NOFOLLOW`).
    let wants_link = flags.contains(OFlags::PATH | OFlags::NOFOLLOW);
    if !wants_link {
        if let Ok(stat) = rustix::fs::statat(&parent, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
            if rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Symlink {
                return Err(Errno::LOOP.into());
            }
        }
    }
    Ok(rustix::fs::openat(&parent, name, flags, mode)?)
}

/// The directory holding `relative` (opened `O_PATH`), and its last name.
pub(crate) fn parent<'a>(
    anchor: &impl AsFd,
    relative: &'a Path,
) -> io::Result<(OwnedFd, &'a OsStr)> {
    check(relative)?;
    let name = relative.file_name().expect("checked: ends in a name");
    // No `O_NOFOLLOW`: with it a link in last place opens as itself and
    // fails as "not a directory"; without it the confinement refuses it.
    let directory = OFlags::PATH | OFlags::DIRECTORY;
    let parent = match relative.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            open(anchor, parent, directory, Mode::empty())?
        }
        _ => rustix::fs::openat(anchor, ".", directory | OFlags::CLOEXEC, Mode::empty())?,
    };
    Ok((parent, name))
}

/// The fallback: opens each directory of `relative` in turn, refusing a
/// symlink or a non-directory, and returns the last one with the final name.
fn walk_parent<'a>(anchor: &impl AsFd, relative: &'a Path) -> io::Result<(OwnedFd, &'a OsStr)> {
    let name = relative.file_name().expect("checked: ends in a name");
    let step = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut current = rustix::fs::openat(anchor, ".", step | OFlags::DIRECTORY, Mode::empty())?;
    if let Some(parent) = relative.parent() {
        for component in parent.components() {
            let next = rustix::fs::openat(&current, component.as_os_str(), step, Mode::empty())?;
            let stat = rustix::fs::fstat(&next)?;
            match rustix::fs::FileType::from_raw_mode(stat.st_mode) {
                rustix::fs::FileType::Directory => current = next,
                rustix::fs::FileType::Symlink => return Err(Errno::LOOP.into()),
                _ => return Err(Errno::NOTDIR.into()),
            }
        }
    }
    Ok((current, name))
}
