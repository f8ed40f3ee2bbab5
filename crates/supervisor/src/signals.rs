//! What a release's process starts with: every signal at its default.
//!
//! A signal ignored by the agent stays ignored across `exec` (handlers are
//! reset, `SIG_IGN` is not), and `sh` cannot undo it: POSIX forbids a
//! non-interactive shell to trap a signal ignored on entry. An agent
//! started under `nohup` would start every app with `SIGHUP` ignored, and
//! a data reload by `HUP` would look taken by an app that never saw it.
//! systemd resets them for its services; so does this, for the app's.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Sets every signal that can be set back to its default disposition.
/// Runs in the child between `fork` and `exec`: only `sigaction` calls,
/// which are async-signal-safe, and no allocation.
pub(crate) fn reset_to_default() -> std::io::Result<()> {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: the default disposition installs no handler code.
        #[allow(unsafe_code)]
        unsafe { sigaction(signal, &default) }.map_err(std::io::Error::from)?;
    }
    Ok(())
}
