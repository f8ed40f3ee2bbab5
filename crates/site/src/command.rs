//! Running the user's shell commands: checks, tests, restart, data
//! checks, and hooks ([`run_bounded`], killed as a group after a timeout).

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Output kept for test counting and error messages; older output is dropped.
const KEEP_BYTES: usize = 256 * 1024;
/// How much of the output an error message shows.
const TAIL_LINES: usize = 20;

/// The end of a finished command.
#[derive(Debug)]
pub struct Finished {
    /// Exit status 0.
    pub success: bool,
    /// How it ended, e.g. `exit status: 1`.
    pub status: String,
    /// stdout and stderr interleaved as they arrived (the last `KEEP_BYTES`).
    pub output: String,
    /// Killed by [`run_bounded`] at its timeout.
    pub timed_out: bool,
}

impl Finished {
    /// The last lines of output, for error messages.
    pub fn tail(&self) -> String {
        let lines: Vec<&str> = self.output.lines().collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }
}

/// Runs `command` with `sh -c` in `dir`, with the release's identity in the environment.
pub fn run(command: &str, dir: &Path, env: &[(&str, &str)]) -> std::io::Result<Finished> {
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(command);
    run_command(shell, dir, env)
}

/// Runs `command` as built (a program and its arguments, no shell) in
/// `dir`, with `env` added, collecting its output as [`run`] does.
pub fn run_command(
    mut command: Command,
    dir: &Path,
    env: &[(&str, &str)],
) -> std::io::Result<Finished> {
    let child = command
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    collect(child, None)
}

/// Runs `command` with `sh -c` in `dir` in a process group of its own,
/// with `env` added; at `timeout` the whole group gets SIGKILL (a hook's
/// children die with it, so none keeps the output pipes open) and the
/// result says [`Finished::timed_out`].
pub fn run_bounded(
    command: &str,
    dir: &Path,
    env: &[(&str, &str)],
    timeout: Duration,
) -> std::io::Result<Finished> {
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .envs(env.iter().copied())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    collect(child, Some(timeout))
}

/// Reads the child's output until it exits (or, given a timeout, until
/// it is killed with its process group at the timeout).
fn collect(mut child: Child, timeout: Option<Duration>) -> std::io::Result<Finished> {
    let output = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = [
        child.stdout.take().map(boxed),
        child.stderr.take().map(boxed),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        let output = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(read) = pipe.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                let mut kept = output.lock().expect("no panics while holding");
                kept.extend_from_slice(&buffer[..read]);
                if kept.len() > 2 * KEEP_BYTES {
                    let cut = kept.len() - KEEP_BYTES;
                    kept.drain(..cut);
                }
            }
        })
    })
    .collect();
    let (status, timed_out) = match timeout {
        None => (child.wait()?, false),
        Some(timeout) => wait_bounded(child, timeout)?,
    };
    for reader in readers {
        let _ = reader.join();
    }
    let bytes = std::mem::take(&mut *output.lock().expect("readers joined"));
    Ok(Finished {
        success: status.success(),
        status: status.to_string(),
        output: String::from_utf8_lossy(&bytes).into_owned(),
        timed_out,
    })
}

/// Waits for `child` (a process group leader) at most `timeout`, then
/// kills its group and reaps it.
fn wait_bounded(
    mut child: Child,
    timeout: Duration,
) -> std::io::Result<(std::process::ExitStatus, bool)> {
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let (sender, receiver) = mpsc::channel();
    // The waiter owns the child. At the timeout the leader is still
    // unreaped (the waiter has not answered), so its group id is ours.
    let waiter = std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    let (status, timed_out) = match receiver.recv_timeout(timeout) {
        Ok(status) => (status, false),
        Err(_) => {
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let status = receiver
                .recv()
                .unwrap_or_else(|_| Err(std::io::Error::other("the waiter ended")));
            (status, true)
        }
    };
    let _ = waiter.join();
    Ok((status?, timed_out))
}

fn boxed(pipe: impl Read + Send + 'static) -> Box<dyn Read + Send> {
    Box::new(pipe)
}
