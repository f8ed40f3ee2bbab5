//! Running the user's shell commands: checks, tests, restart, data checks.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

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
    let mut child = command
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
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
    let status = child.wait()?;
    for reader in readers {
        let _ = reader.join();
    }
    let bytes = std::mem::take(&mut *output.lock().expect("readers joined"));
    Ok(Finished {
        success: status.success(),
        status: status.to_string(),
        output: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

fn boxed(pipe: impl Read + Send + 'static) -> Box<dyn Read + Send> {
    Box::new(pipe)
}
