//! Handing the public listening socket to a new agent (`hoist agent
//! --upgrade`), pingora-style: the socket itself moves between processes by
//! SCM_RIGHTS, so it never closes and no connection is ever refused.
//!
//! The phases, in order:
//! 1. [`UpgradePhase::StartingReleases`]: the new agent starts the live release on fresh ports and waits for its health check;
//! 2. [`UpgradePhase::ReceivingListener`]: it asks the old agent (admin API) to send the listener to a one-off socket;
//! 3. [`UpgradePhase::Serving`]: it serves on the same socket and takes over the admin socket path;
//!    the old agent answers each open connection's next request with `Connection: close`, drains, stops its apps, and exits.
//!
//! The new agent owns the traffic rules from the handover on. While the old
//! one drains, it follows the pause and the maintenance command from the
//! state file the new one writes ([`follow_successor`]): requests it holds in
//! a pause are released when `hoist resume` reaches the new agent, not cut
//! when its drain runs out.

use crate::Agent;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// How often a draining agent looks at its successor's state.
const FOLLOW_EVERY: Duration = Duration::from_millis(50);

/// Where an upgrade stands; logged at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradePhase {
    /// Starting the live release in the new agent.
    StartingReleases,
    /// Waiting for the old agent to send its listener.
    ReceivingListener,
    /// The new agent serves; the old one drains.
    Serving,
}

/// Sends `listener` over a fresh connection to `to` (old agent side).
pub(crate) fn send_listener(to: &Path, listener: BorrowedFd<'_>) -> std::io::Result<()> {
    let stream = UnixStream::connect(to)?;
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(b"L")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

/// Accepts one connection on `listener` and receives the socket sent on it (new agent side).
pub fn receive_listener(listener: &UnixListener) -> std::io::Result<std::net::TcpListener> {
    let (stream, _) = listener.accept()?;
    let mut byte = [0u8; 1];
    let mut io = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let message = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut io,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for control in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = control {
            if let Some(&fd) = fds.first() {
                return Ok(std::net::TcpListener::from(owned(fd)));
            }
        }
    }
    Err(std::io::Error::other("the old agent sent no listener"))
}

#[allow(unsafe_code)]
fn owned(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: the kernel just installed `fd` in this process for the
    // SCM_RIGHTS message; nothing else knows of it, so we are its only owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// After the handover: applies the successor's pause and maintenance command,
/// as it saves them, to the requests this agent still serves. Runs until
/// dropped (when this agent's connections are done).
pub(crate) async fn follow_successor(agent: &Agent) {
    let mut last = None;
    loop {
        if let Ok(state) = crate::state::load(agent.site()) {
            let rules = (state.paused_until, state.maintenance);
            if last.as_ref() != Some(&rules) {
                match rules.0 {
                    Some(until) => agent.router().pause(
                        Duration::try_from(until.duration_since(jiff::Timestamp::now()))
                            .unwrap_or_default(),
                    ),
                    None => agent.router().resume(),
                }
                agent.set_maintenance(rules.1.clone());
                last = Some(rules);
            }
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}
