//! Stopping a process group we cannot `wait` on: the members a shell left
//! behind, and the children of a previous agent that died without stopping
//! them (after `kill -9`, the candidate it was starting keeps its port).

use crate::group;
use crate::identity::Identity;
use nix::sys::signal::Signal;
use std::time::Duration;

/// Members are not our children, so their exit is polled this often.
const POLL: Duration = Duration::from_millis(20);

/// A KILLed process is gone within this unless the kernel holds it (`D` state).
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Waits until no verified member of the group is alive; at `deadline`
/// KILLs what is left and waits (bounded) for it to go.
pub(crate) async fn wait_gone(identity: &Identity, deadline: tokio::time::Instant) {
    let mut deadline = deadline;
    let mut killed = false;
    while group::alive(identity) {
        let now = tokio::time::Instant::now();
        if now >= deadline && killed {
            tracing::warn!(pid = identity.pid, "still alive after KILL");
            return;
        }
        if now >= deadline {
            group::signal_group(identity, Signal::SIGKILL);
            killed = true;
            deadline = now + KILL_GRACE;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What became of a recorded child of a previous agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphan {
    /// Nothing of it was running (any process with its pid is someone else's).
    Gone,
    /// It was running and is now stopped.
    Stopped,
}

/// Stops the group `identity` recorded, if it still runs: `stop_signal`,
/// then KILL after `stop_timeout`. Only processes that pass the identity
/// check are signalled; the rest are left alone and logged.
pub async fn stop_orphan(
    identity: &Identity,
    stop_signal: Signal,
    stop_timeout: Duration,
) -> Orphan {
    if group::signal_group(identity, stop_signal) == 0 {
        return Orphan::Gone;
    }
    tracing::warn!(
        pid = identity.pid,
        signal = stop_signal.as_str(),
        "stopping an app process a previous agent left running"
    );
    wait_gone(identity, tokio::time::Instant::now() + stop_timeout).await;
    Orphan::Stopped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_orphan_that_ignores_term_is_killed_after_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let spec = crate::Spec::new(
            "v1",
            dir.path(),
            "trap '' TERM; sleep 30; true",
            &dir.path().join("v1.log"),
        );
        let process = crate::Process::start(spec).await.unwrap();
        let identity = process.identity().clone();
        let stop = stop_orphan(&identity, Signal::SIGTERM, Duration::from_millis(300));
        assert_eq!(stop.await, Orphan::Stopped);
        assert!(!group::alive(&identity));
        assert!(process.wait_exit().await.contains("signal"));
        let again = stop_orphan(&identity, Signal::SIGTERM, Duration::from_millis(300));
        assert_eq!(again.await, Orphan::Gone);
    }
}
