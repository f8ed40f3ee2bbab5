//! What a release's process starts with: every signal at its default.
//!
//! A signal the agent inherited as ignored stays ignored across `exec`
//! (a caught one is reset to its default, an ignored one is not), and `sh`
//! cannot undo it: POSIX forbids a non-interactive shell to trap a signal
//! ignored on entry. An agent started under `nohup` started every app with
//! SIGHUP ignored, and a data reload by `HUP` looked taken by an app that
//! never saw it; a `cmd &` in a script ignores SIGINT and SIGQUIT the same
//! way. systemd resets signals for its services; an agent started
//! otherwise calls [`catch_ignored`] once at its start.
//!
//! Why not reset them in the child before `exec`: any `pre_exec` hook
//! makes std `fork` the agent instead of using `posix_spawn`, copying its
//! page tables (and, under strict overcommit, committing its memory) on
//! every app start.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Catches, and does nothing with, every standard signal this process
/// ignores: it goes on ignoring them in effect, and what it starts gets
/// them at their default. Returns the signals it changed. Call it before
/// any other thread starts (it reads each disposition by replacing it).
pub fn catch_ignored() -> std::io::Result<Vec<Signal>> {
    let caught = SigAction::new(
        SigHandler::Handler(nothing),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    let mut changed = Vec::new();
    for signal in Signal::iterator() {
        // SIGPIPE: std ignores it itself and resets it for every child.
        // The job-control ones stay as they are: caught instead of ignored,
        // a background agent's terminal writes could stop on SIGTTOU.
        if matches!(
            signal,
            Signal::SIGKILL
                | Signal::SIGSTOP
                | Signal::SIGPIPE
                | Signal::SIGTSTP
                | Signal::SIGTTIN
                | Signal::SIGTTOU
        ) {
            continue;
        }
        // SAFETY: `nothing` does nothing, so it is async-signal-safe; the
        // old disposition is put back unless it was "ignore".
        #[allow(unsafe_code)]
        let old = unsafe { sigaction(signal, &caught) }.map_err(std::io::Error::from)?;
        if old.handler() == SigHandler::SigIgn {
            changed.push(signal);
        } else {
            // SAFETY: puts back what was there a moment ago.
            #[allow(unsafe_code)]
            unsafe { sigaction(signal, &old) }.map_err(std::io::Error::from)?;
        }
    }
    Ok(changed)
}

/// The handler that stands in for "ignore".
extern "C" fn nothing(_: std::ffi::c_int) {}
