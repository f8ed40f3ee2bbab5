//! `hoist recover` after a hook was killed with hoist: stop what the hook
//! left running, and name the ledger row recovery wrote.
//!
//! The hook's process group dies with hoist on its own (its leader has
//! `PR_SET_PDEATHSIG`, see `hoist_site::command`); this is the fallback
//! for a member that outlived it. hoist must never signal a process that
//! is not its own, and a group id can be reused once its group is gone,
//! so a process is stopped only if it is in the journaled group *and*
//! carries the operation's mark, `HOIST_OP=<op_id>`, in its environment
//! (op ids are unique: start time and pid).

use crate::{Context, Reporter};
use hoist_site::JournalRecord;

/// Kills (SIGKILL) the processes of the journaled hook group that carry
/// the operation's mark; returns them as `` `sleep` (pid 12) ``.
pub(crate) fn stop_left(record: &JournalRecord, reporter: &dyn Reporter) -> Vec<String> {
    let Some(group) = record
        .hook_group
        .and_then(|group| i32::try_from(group).ok())
    else {
        return Vec::new();
    };
    let Ok(processes) = procfs::process::all_processes() else {
        return Vec::new();
    };
    let mark = std::ffi::OsString::from(&record.op_id);
    let stopped: Vec<String> = processes
        .flatten()
        .filter_map(|process| Some((process.stat().ok()?, process)))
        .filter(|(stat, _)| stat.pgrp == group)
        .filter(|(_, process)| {
            process
                .environ()
                .is_ok_and(|environ| environ.get(std::ffi::OsStr::new("HOIST_OP")) == Some(&mark))
        })
        .filter(|(stat, _)| {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(stat.pid),
                nix::sys::signal::Signal::SIGKILL,
            )
            .is_ok()
        })
        .map(|(stat, _)| {
            let name = hoist_site::command::inert(&stat.comm);
            format!("`{name}` (pid {})", stat.pid)
        })
        .collect();
    if !stopped.is_empty() {
        reporter.step(
            "recover",
            &format!(
                "stopped what the interrupted hook left running: {}",
                stopped.join(", ")
            ),
        );
    }
    stopped
}

/// The ledger row with `op_id`, once written (a write that waited for a
/// locked ledger is not there yet).
pub(crate) fn row_of(context: &Context, op_id: &str) -> Option<hoist_ledger::Event> {
    context
        .ledger
        .events(50)
        .ok()?
        .into_iter()
        .find(|event| event.op_id == op_id)
}
