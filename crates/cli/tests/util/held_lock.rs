//! A site lock held by another process, as another tool (or a live hoist)
//! holds it: `flock --no-fork` on the lock file, stopped on drop.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child holding an `flock` on a file; killed and reaped on drop.
pub struct HeldLock(Child);

impl HeldLock {
    /// Locks `path` in a child and waits for its "locked" line (its readiness signal).
    pub fn hold(path: &Path) -> HeldLock {
        let mut child = Command::new("flock")
            .arg("--no-fork")
            .arg(path)
            .args(["sh", "-c", "echo locked; exec sleep 60"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "locked");
        HeldLock(child)
    }

    /// The holder's pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Lets go of the lock: the holder is stopped and reaped.
    pub fn release(self) {}
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
