//! Headless Chromium (Debian's `chromium`, installed by `scripts/test`),
//! run in a process group of its own with a fresh profile: its helper
//! processes (zygote, GPU, network) are stopped with it, by the group's id,
//! whether it finished or hung.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BINARY: &str = "/usr/bin/chromium";

/// How long one page may take: a hung browser fails the test, bounded.
const WITHIN: Duration = Duration::from_secs(90);

/// `chromium --dump-dom file://PATH`: the DOM after parsing, as HTML.
#[track_caller]
pub fn dump_dom(page: &Path, profile: &Path) -> String {
    dump_url(&format!("file://{}", page.display()), profile)
}

/// `chromium --dump-dom URL`: the DOM after parsing, as HTML.
#[track_caller]
#[allow(dead_code)] // Not every test binary loads pages over HTTP.
pub fn dump_url(url: &str, profile: &Path) -> String {
    let stdout = run(&["--dump-dom", url], profile);
    String::from_utf8(stdout).expect("the DOM is UTF-8")
}

/// `chromium --screenshot=PNG --window-size=1200,900 file://PATH`; returns
/// the PNG's bytes.
#[track_caller]
pub fn screenshot(page: &Path, png: &Path, profile: &Path) -> Vec<u8> {
    screenshot_url(
        &format!("file://{}", page.display()),
        "1200,900",
        png,
        profile,
    )
}

/// `chromium --screenshot=PNG --window-size=SIZE URL`; returns the PNG's bytes.
#[track_caller]
pub fn screenshot_url(url: &str, size: &str, png: &Path, profile: &Path) -> Vec<u8> {
    let shot = format!("--screenshot={}", png.display());
    let size = format!("--window-size={size}");
    run(&[&shot, &size, "--hide-scrollbars", url], profile);
    std::fs::read(png)
        .unwrap_or_else(|error| panic!("chromium wrote no `{}`: {error}", png.display()))
}

#[track_caller]
fn run(args: &[&str], profile: &Path) -> Vec<u8> {
    assert!(
        Path::new(BINARY).exists(),
        "`{BINARY}` is missing: `apt-get install chromium` (scripts/test installs it)"
    );
    let mut child = Command::new(BINARY)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut stdout = child.stdout.take().unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    // Reading to the end is the readiness signal: chromium closes stdout as it exits.
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut bytes);
        let _ = done.send(bytes);
    });
    let output = finished.recv_timeout(WITHIN);
    // Every process of the group: a finished browser's helpers, or a hung one.
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let status = child.wait().unwrap();
    let output = output.unwrap_or_else(|_| {
        panic!(
            "chromium did not finish within {} s: {args:?}",
            WITHIN.as_secs()
        )
    });
    assert!(
        status.success() || status.code().is_none(),
        "chromium failed: {status} {args:?}"
    );
    output
}
