//! One deploy at a time, with a holder you can name.
//!
//! The lock is an `flock` on `deploy.lock`, so the kernel frees it the moment
//! its holder dies, even by `kill -9`. The file's content names the holder:
//! finding content while the flock is free means the last holder died
//! without unlocking, which the caller reports as a stale lock taken over.

use crate::{identity, Site, SiteError};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;

/// Who holds (or held) the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The user who ran the command.
    pub user: String,
    /// The host it ran on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// What it was doing, e.g. `deploy 20261122T101500Z-1.4.2-a1b2c3d`.
    pub command: String,
    /// When it took the lock.
    pub since: jiff::Timestamp,
    /// The fleet operation holding the host (`hoist deploy --stage`), when
    /// this is a fleet lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_op: Option<String>,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.user.is_empty() {
            // Not hoist: a process that left no record (`flock deploy.lock ...`).
            f.write_str("another process")?;
            if self.pid != 0 {
                write!(f, " (pid {})", self.pid)?;
            }
            return f.write_str(" that is not hoist and left no record in `deploy.lock`");
        }
        write!(
            f,
            "`{}` on `{}` (pid {}, `{}`, since {})",
            self.user,
            self.host,
            self.pid,
            self.command,
            self.since.strftime("%Y-%m-%d %H:%M:%S UTC")
        )?;
        match &self.fleet_op {
            Some(op) => write!(f, ", fleet operation `{op}`"),
            None => Ok(()),
        }
    }
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct DeployLock {
    file: HeldFile,
}

/// A held lock file (deploy or fleet lock): emptied and unlocked on
/// release or drop, so the next holder sees no stale record.
#[derive(Debug)]
pub(crate) struct HeldFile(Option<Flock<File>>);

impl HeldFile {
    pub(crate) fn new(file: Flock<File>) -> HeldFile {
        HeldFile(Some(file))
    }

    /// Writes `holder` into the file, durably.
    pub(crate) fn name(&mut self, holder: &LockHolder) -> std::io::Result<()> {
        let json = serde_json::to_vec(holder).expect("holder serializes");
        let file = self.0.as_mut().expect("held until cleared");
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(&json)?;
        file.sync_all()
    }

    /// The record left by the previous holder, if any.
    pub(crate) fn previous(&mut self) -> Option<LockHolder> {
        read_holder(self.0.as_mut().expect("held until cleared"))
    }

    pub(crate) fn clear(&mut self) -> std::io::Result<()> {
        if let Some(file) = self.0.take() {
            file.set_len(0)?;
            file.sync_all()?;
            drop(file.unlock());
        }
        Ok(())
    }
}

impl Drop for HeldFile {
    fn drop(&mut self) {
        let _ = self.clear();
    }
}

impl DeployLock {
    /// Takes the lock for `command`. Returns the previous holder when a stale
    /// lock (one whose holder died) was taken over, so the caller can warn.
    pub fn acquire(
        site: &Site,
        command: &str,
    ) -> Result<(DeployLock, Option<LockHolder>), SiteError> {
        let path = site.lock_path();
        let file = open_lock_file(site, &path)?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => HeldFile::new(locked),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                let holder = read_holder(
                    &mut File::open(&path).map_err(SiteError::io("cannot open", &path))?,
                )
                .unwrap_or_else(|| unknown_holder(&path, command));
                // Absolute: the hint (`fuser -v LOCK`) runs from anywhere.
                let lock = std::fs::canonicalize(&path).unwrap_or(path);
                return Err(SiteError::Locked {
                    holder: Box::new(holder),
                    lock,
                });
            }
            Err((_, errno)) => {
                return Err(SiteError::Io {
                    action: "cannot lock",
                    path,
                    cause: errno.into(),
                })
            }
        };
        let stale = file.previous();
        let holder = LockHolder {
            user: identity::user_name(),
            host: identity::host_name(),
            pid: std::process::id(),
            command: command.to_owned(),
            since: jiff::Timestamp::now(),
            fleet_op: None,
        };
        match file.name(&holder) {
            Ok(()) => {}
            // The flock is the lock; the record only names its holder. On a
            // full disk an emergency rollback goes ahead without the name.
            Err(error) if error.kind() == std::io::ErrorKind::StorageFull => {}
            Err(source) => {
                return Err(SiteError::Io {
                    action: "cannot write",
                    path,
                    cause: source,
                })
            }
        }
        Ok((DeployLock { file }, stale))
    }

    /// Who holds the lock right now, if anyone (stale content is not a holder).
    pub fn holder(site: &Site) -> Result<Option<LockHolder>, SiteError> {
        let path = site.lock_path();
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SiteError::Io {
                    action: "cannot open",
                    path,
                    cause: source,
                })
            }
        };
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(_free) => Ok(None),
            Err((mut file, _)) => Ok(Some(
                read_holder(&mut file).unwrap_or_else(|| unknown_holder(&path, "unknown")),
            )),
        }
    }

    /// Clears a lock record left by a dead holder. Refuses while the holder
    /// is alive: breaking a running deploy's lock is how sites get corrupted.
    pub fn clear_stale(site: &Site) -> Result<Option<LockHolder>, SiteError> {
        let (lock, stale) = DeployLock::acquire(site, "unlock")?;
        lock.release()?;
        Ok(stale)
    }

    /// Releases the lock, leaving the file empty so the next holder sees no stale record.
    pub fn release(mut self) -> Result<(), SiteError> {
        self.file.clear().map_err(|source| SiteError::Io {
            action: "cannot release lock",
            path: "deploy.lock".into(),
            cause: source,
        })
    }
}

/// Opens (creating) a lock file with the site's state access: it names
/// users and hosts, so an older hoist's world-readable one is tightened.
pub(crate) fn open_lock_file(site: &Site, path: &std::path::Path) -> Result<File, SiteError> {
    let access = site.state_access();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(access.mode)
        .open(path)
        .map_err(SiteError::io("cannot open", path))?;
    access.apply(&file, path)?;
    Ok(file)
}

/// The holder named in a lock file (deploy or fleet lock), if any.
pub(crate) fn read_holder_from(file: &mut File) -> Option<LockHolder> {
    read_holder(file)
}

fn read_holder(file: &mut File) -> Option<LockHolder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// A holder that left no record; its pid from `/proc/locks` where it shows.
fn unknown_holder(path: &std::path::Path, command: &str) -> LockHolder {
    LockHolder {
        user: String::new(),
        host: identity::host_name(),
        pid: crate::lock_owner::flock_pid(path).unwrap_or(0),
        command: command.to_owned(),
        since: jiff::Timestamp::now(),
        fleet_op: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        let (lock, stale) = DeployLock::acquire(&site, "deploy a").unwrap();
        assert!(stale.is_none());
        let SiteError::Locked { holder, .. } = DeployLock::acquire(&site, "deploy b").unwrap_err()
        else {
            panic!("expected Locked");
        };
        assert_eq!(holder.command, "deploy a");
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(
            DeployLock::holder(&site).unwrap().unwrap().command,
            "deploy a"
        );
        lock.release().unwrap();
        assert!(DeployLock::holder(&site).unwrap().is_none());
        let (_lock, stale) = DeployLock::acquire(&site, "deploy b").unwrap();
        assert!(stale.is_none());
    }

    #[test]
    fn record_left_by_a_dead_holder_is_reported_as_stale() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        let dead = LockHolder {
            user: "bob".into(),
            host: "web1".into(),
            pid: 1,
            command: "deploy x".into(),
            since: jiff::Timestamp::now(),
            fleet_op: None,
        };
        std::fs::write(site.lock_path(), serde_json::to_vec(&dead).unwrap()).unwrap();
        let (_lock, stale) = DeployLock::acquire(&site, "deploy y").unwrap();
        assert_eq!(stale, Some(dead));
    }
}
