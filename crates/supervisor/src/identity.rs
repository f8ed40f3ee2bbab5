//! Who a child process is, beyond its pid: a pid alone names whatever
//! process holds that number *now*, which after a crash, a reboot or pid
//! reuse is a stranger.
//!
//! A child is its pid, its start time (clock ticks since boot, from
//! `/proc/PID/stat`) and the boot id; and it carries a token in its
//! environment (`HOIST_CHILD`) that everything it forks inherits, so the
//! rest of its process group can still be told apart from strangers once
//! the `sh -c` wrapper at its head has exited.

use crate::procfs;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable holding a child's token.
pub const MARKER: &str = "HOIST_CHILD";

/// One child process group started by the supervisor, as recorded for a
/// successor agent. Serialisable: `agent-state.json` keeps one per child.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// The group leader's pid, which is also the process group id.
    pub pid: u32,
    /// The leader's start time, clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_ticks: u64,
    /// `/proc/sys/kernel/random/boot_id` when it started: after a reboot
    /// no pid or start time names the same process.
    pub boot_id: String,
    /// The value of `HOIST_CHILD` in the environment of the group's
    /// processes. Made before the spawn (the pid is not known yet) from
    /// the spawning process's own identity and a counter, so it is unique
    /// within the boot.
    pub token: String,
}

impl Identity {
    /// The identity of the just-spawned (not yet reaped) child `pid`;
    /// `None` when `/proc` does not show it.
    pub(crate) fn of_child(pid: u32, token: String) -> Option<Identity> {
        let stat = procfs::stat(i32::try_from(pid).ok()?)?;
        Some(Identity {
            pid,
            start_ticks: stat.start_ticks,
            boot_id: procfs::boot_id().to_owned(),
            token,
        })
    }

    /// The process group id, as signals and `/proc` name it.
    pub(crate) fn group(&self) -> i32 {
        i32::try_from(self.pid).unwrap_or(0)
    }

    /// Whether `/proc`'s `stat` for the leader pid describes the leader itself.
    pub(crate) fn is_leader(&self, stat: &procfs::Stat) -> bool {
        stat.start_ticks == self.start_ticks && stat.group == self.group()
    }

    /// Whether this identity was recorded during the current boot.
    pub(crate) fn this_boot(&self) -> bool {
        !self.boot_id.is_empty() && self.boot_id == procfs::boot_id()
    }

    /// Whether `pid` carries this child's token in its environment.
    pub(crate) fn marks(&self, pid: i32) -> bool {
        !self.token.is_empty() && procfs::environ_has(pid, MARKER, &self.token)
    }
}

/// A token no other child of this boot has: this process's pid and start
/// time (which together name it within the boot) and a counter.
pub(crate) fn new_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let me = std::process::id();
    let started = procfs::stat(me as i32).map_or(0, |stat| stat.start_ticks);
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{me}-{started}-{count}")
}
