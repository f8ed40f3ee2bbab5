//! The example app run by a test as a static backend (`[[proxy.backend]]`),
//! stopped on drop.

use super::BIN;
use std::io::BufRead;

/// A running `hoist example-app`; killed and reaped on drop.
pub struct StaticApp(std::process::Child);

impl StaticApp {
    /// Starts it on `port`, answering as release `name`, and waits for its
    /// "listening" line (its readiness signal).
    pub fn start(name: &str, port: u16) -> StaticApp {
        StaticApp::start_in(name, port, &std::env::temp_dir())
    }

    /// [`StaticApp::start`] with `dir` as its working directory (a
    /// release of some site, so `/proc` places it there).
    pub fn start_in(name: &str, port: u16, dir: &std::path::Path) -> StaticApp {
        let mut child = std::process::Command::new(BIN)
            .args(["example-app", "--listen", &format!("127.0.0.1:{port}")])
            .env("HOIST_RELEASE", name)
            .current_dir(dir)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stderr.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("listening"), "{line}");
        StaticApp(child)
    }
}

impl Drop for StaticApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
