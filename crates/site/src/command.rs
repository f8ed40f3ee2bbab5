//! Running the user's shell commands: checks, tests, restart, data
//! checks, and hooks ([`run_bounded`], held to a deadline with their whole
//! process group; see [`group`]).
//!
//! stdout and stderr share one pipe, so their lines keep the order the
//! command wrote them in; what an error shows of them is [`Finished::tail`].

mod group;
mod tail;

use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Output kept for test counting and error messages; older output is dropped.
const KEEP_BYTES: usize = 256 * 1024;

/// The end of a finished command.
#[derive(Debug)]
pub struct Finished {
    /// Exit status 0.
    pub success: bool,
    /// How it ended, e.g. `exit status: 1`.
    pub status: String,
    /// stdout and stderr interleaved as written (the last `KEEP_BYTES`), raw.
    pub output: String,
    /// Killed by [`run_bounded`] at its timeout.
    pub timed_out: bool,
    /// [`run_bounded`]: processes of its group that still held its output
    /// when it exited, killed at its timeout: `` `sleep` (pid 12) ``.
    pub left_running: Vec<String>,
}

impl Finished {
    /// The last lines of output, bounded and with control characters
    /// replaced: the only form in which output leaves hoist (errors, JSON,
    /// ledger, notifications).
    pub fn tail(&self) -> String {
        tail::tail(&self.output)
    }
}

/// `text` with control characters replaced, as in [`Finished::tail`]:
/// for what a process names itself (`comm`), before hoist shows it.
pub fn inert(text: &str) -> String {
    tail::inert_text(text)
}

/// Runs `command` with `sh -c` in `dir`, with the release's identity in the environment.
pub fn run(command: &str, dir: &Path, env: &[(&str, &str)]) -> std::io::Result<Finished> {
    let mut shell = Command::new("sh");
    shell.arg("-c").arg(command);
    run_command(shell, dir, env)
}

/// Runs `command` as built (a program and its arguments, no shell) in
/// `dir`, with `env` added, collecting its output as [`run`] does.
pub fn run_command(mut command: Command, dir: &Path, env: &[(&str, &str)]) -> io::Result<Finished> {
    let (mut reader, writer) = io::pipe()?;
    let mut child = command
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .spawn()?;
    // Our copies of the write end go, so the pipe ends with the command's.
    drop(command);
    let mut output = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => keep(&mut output, &buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    let status = child.wait()?;
    Ok(Finished {
        success: status.success(),
        status: status.to_string(),
        output: String::from_utf8_lossy(&output).into_owned(),
        timed_out: false,
        left_running: Vec::new(),
    })
}

/// Runs `command` with `sh -c` in `dir` in a process group of its own,
/// with `env` added, held to `timeout` (see [`group`]): at the timeout
/// the whole group gets SIGKILL, whether the command still runs
/// ([`Finished::timed_out`]) or a process it left holds its output
/// ([`Finished::left_running`]). `started` is told the group id first.
pub fn run_bounded(
    command: &str,
    dir: &Path,
    env: &[(&str, &str)],
    timeout: Duration,
    started: &mut dyn FnMut(u32),
) -> io::Result<Finished> {
    let mut shell = Command::new("sh");
    shell.current_dir(dir).envs(env.iter().copied());
    let ended = group::run(shell, command, timeout, started)?;
    Ok(Finished {
        success: ended.status.success() && ended.left_running.is_empty(),
        status: ended.status.to_string(),
        output: String::from_utf8_lossy(&ended.output).into_owned(),
        timed_out: ended.timed_out,
        left_running: ended.left_running,
    })
}

/// Adds `read` to `output`, which keeps its last [`KEEP_BYTES`].
fn keep(output: &mut Vec<u8>, read: &[u8]) {
    output.extend_from_slice(read);
    if output.len() > 2 * KEEP_BYTES {
        let cut = output.len() - KEEP_BYTES;
        output.drain(..cut);
    }
}
