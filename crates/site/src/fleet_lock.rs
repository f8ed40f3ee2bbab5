//! One fleet operation at a time, across every host of a stage.
//!
//! `hoist deploy --stage` takes this lock on each host, in a fixed order,
//! before it changes any of them, and holds it until the whole operation
//! ends. It is an `flock` on `fleet.lock` held by `hoist fleet hold`, a
//! process that lives as long as the deploying machine's ssh channel: when
//! that machine or its connection dies, the kernel frees the lock, so a
//! fleet lock is never left held by nobody.
//!
//! Every command that takes the [`DeployLock`] checks it
//! ([`FleetLock::refuse_unless`]): while a fleet operation holds a host,
//! only that operation's own commands (`--fleet-op`) change the site.

use crate::lock::{open_lock_file, read_holder_from, HeldFile};
use crate::{identity, DeployLock, LockHolder, Site, SiteError};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;

/// A held fleet lock; dropping it releases it.
#[derive(Debug)]
pub struct FleetLock {
    file: HeldFile,
}

impl FleetLock {
    /// Takes the fleet lock for fleet operation `op`, run by `by` (the
    /// deploying user and machine, `alice@laptop`) for `command`. Refuses
    /// while an operation of this host holds its deploy lock, or another
    /// fleet operation holds this one: all or nothing.
    pub fn acquire(site: &Site, op: &str, by: &str, command: &str) -> Result<FleetLock, SiteError> {
        // Another fleet operation is named as such, whatever step it is at.
        if let Some(holder) = FleetLock::holder(site)? {
            return Err(SiteError::Locked {
                holder: Box::new(holder),
                lock: std::fs::canonicalize(site.fleet_lock_path())
                    .unwrap_or_else(|_| site.fleet_lock_path()),
            });
        }
        // Under the deploy lock, so no local operation is mid-way, and none
        // can start between our check and our flock (they check under it).
        let (deploy, _stale) = DeployLock::acquire(site, &format!("fleet {command}"))?;
        let path = site.fleet_lock_path();
        let file = open_lock_file(site, &path)?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => HeldFile::new(locked),
            Err((file, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(locked_by(file, &path));
            }
            Err((_, errno)) => {
                return Err(SiteError::Io {
                    action: "cannot lock",
                    path,
                    cause: errno.into(),
                })
            }
        };
        let (user, host) = by.split_once('@').unwrap_or((by, ""));
        let holder = LockHolder {
            user: user.to_owned(),
            host: if host.is_empty() {
                identity::host_name()
            } else {
                host.to_owned()
            },
            pid: std::process::id(),
            command: command.to_owned(),
            since: jiff::Timestamp::now(),
            fleet_op: Some(op.to_owned()),
        };
        file.name(&holder)
            .map_err(SiteError::io("cannot write", &path))?;
        deploy.release()?;
        Ok(FleetLock { file })
    }

    /// The fleet operation holding this host, if any.
    pub fn holder(site: &Site) -> Result<Option<LockHolder>, SiteError> {
        let path = site.fleet_lock_path();
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SiteError::io("cannot open", &path)(source)),
        };
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(_free) => Ok(None),
            Err((mut file, _)) => Ok(read_holder_from(&mut file)),
        }
    }

    /// Refuses unless the host is free of fleet operations or held by
    /// `op` itself: called under the deploy lock by every command that
    /// changes the site.
    pub fn refuse_unless(site: &Site, op: Option<&str>) -> Result<(), SiteError> {
        match FleetLock::holder(site)? {
            Some(holder) if holder.fleet_op.as_deref() != op => {
                let lock = std::fs::canonicalize(site.fleet_lock_path())
                    .unwrap_or_else(|_| site.fleet_lock_path());
                Err(SiteError::Locked {
                    holder: Box::new(holder),
                    lock,
                })
            }
            _ => Ok(()),
        }
    }

    /// Releases the lock, leaving the file empty.
    pub fn release(mut self) -> Result<(), SiteError> {
        self.file
            .clear()
            .map_err(SiteError::io("cannot release lock", "fleet.lock"))
    }
}

fn locked_by(mut file: File, path: &std::path::Path) -> SiteError {
    let holder = read_holder_from(&mut file).unwrap_or_else(|| LockHolder {
        user: String::new(),
        host: identity::host_name(),
        pid: crate::lock_owner::flock_pid(path).unwrap_or(0),
        command: "fleet operation".to_owned(),
        since: jiff::Timestamp::now(),
        fleet_op: None,
    });
    SiteError::Locked {
        holder: Box::new(holder),
        lock: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
    }
}
