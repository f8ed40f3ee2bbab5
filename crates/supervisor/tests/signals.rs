//! What a started release's process inherits of the agent's signals.

use hoist_supervisor::{catch_ignored, Process, Spec};
use nix::sys::signal::{raise, signal, SigHandler, Signal};

// Broke: an agent started under `nohup` (or by a hoist command, which
// ignores SIGHUP to outlive its terminal) started every app with SIGHUP
// ignored, so `[data] reload = "HUP"` was reported taken by a hypnotoad
// that never saw it.
#[tokio::test]
async fn an_agent_ignoring_hup_started_apps_that_ignored_it_too() {
    // SAFETY: SIG_IGN installs no handler; this test binary is its own process.
    #[allow(unsafe_code)]
    unsafe { signal(Signal::SIGHUP, SigHandler::SigIgn) }.unwrap();
    // What `hoist agent` does at its start.
    let changed = catch_ignored().unwrap();
    assert!(changed.contains(&Signal::SIGHUP), "{changed:?}");
    // The agent itself still outlives a hangup.
    raise(Signal::SIGHUP).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = Spec::new(
        "v1",
        dir.path(),
        "grep '^SigIgn:' /proc/self/status > ignored",
        &dir.path().join("app.log"),
    );
    let process = Process::start(spec).await.unwrap();
    let status = process.wait_exit().await;
    assert!(status.contains("exit status: 0"), "{status}");
    let ignored = std::fs::read_to_string(dir.path().join("ignored")).unwrap();
    let mask =
        u64::from_str_radix(ignored.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    let hup = 1u64 << (Signal::SIGHUP as i32 - 1);
    assert_eq!(
        mask & hup,
        0,
        "the app started with SIGHUP ignored: {ignored}"
    );
    // The standard signals (1-31); glibc keeps 32 and 33 for itself.
    let standard = (1u64 << 31) - 1;
    assert_eq!(
        mask & standard,
        0,
        "the app started with signals ignored: {ignored}"
    );
}
