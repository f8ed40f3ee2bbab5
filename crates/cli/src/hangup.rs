//! Surviving a hung-up terminal.
//!
//! Seed 004 runs its deploys under `nohup` because a dropped SSH session
//! sends SIGHUP, whose default action kills the process mid-deploy. hoist
//! does that itself for every command that changes a site: it ignores
//! SIGHUP and goes on to the end, and its progress lines (see
//! [`crate::progress`]) never fail on a terminal that is gone. The journal
//! and `hoist recover` remain for `kill -9`.

use nix::sys::signal::{signal, SigHandler, Signal};

/// Ignores SIGHUP from here on (inherited by the commands hoist runs, as
/// `nohup` does).
pub fn outlive_terminal() {
    // SAFETY: SIG_IGN installs no handler code, so nothing can run in
    // signal context; this is what `nohup` does before exec.
    #[allow(unsafe_code)]
    let ignored = unsafe { signal(Signal::SIGHUP, SigHandler::SigIgn) };
    if let Err(error) = ignored {
        tracing::warn!(%error, "cannot ignore SIGHUP; a dropped terminal may stop this command");
    }
}
