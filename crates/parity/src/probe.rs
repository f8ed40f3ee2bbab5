//! One probe: `sh -c COMMAND` in the release's directory with the site's
//! environment, stdout then stderr (`perl -v` writes one, `java -version`
//! the other), bounded by a timeout. A probe that hangs is killed with its
//! whole process group, so a deploy never waits on it past the timeout.
//! Each stream is read with a bound ([`MAX_OUTPUT`]) and the rest drained
//! unread, so a probe that prints megabytes (`yes`) neither fills memory
//! nor the record kept per deploy; what was left out is marked.

use crate::ProbeOutput;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The most of a probe's output kept (bytes): a version line or a package
/// list fits many times over.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// Runs `command` as a probe.
pub(crate) fn run(
    command: &str,
    env: &[(String, String)],
    dir: &Path,
    timeout: Duration,
) -> ProbeOutput {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return failed(command, format!("cannot run: {error}")),
    };
    runtime.block_on(run_async(command, env, dir, timeout))
}

async fn run_async(
    command: &str,
    env: &[(String, String)],
    dir: &Path,
    timeout: Duration,
) -> ProbeOutput {
    let mut process = tokio::process::Command::new("sh");
    process
        .args(["-c", command])
        .current_dir(dir)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match process.spawn() {
        Ok(child) => child,
        Err(error) => return failed(command, format!("cannot run `sh`: {error}")),
    };
    let group = child.id().and_then(|id| i32::try_from(id).ok());
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let finished = async {
        let (stdout, stderr) = tokio::join!(bounded(stdout), bounded(stderr));
        Ok::<_, std::io::Error>((stdout?, stderr?, child.wait().await?))
    };
    match tokio::time::timeout(timeout, finished).await {
        Ok(Ok(((stdout, out_more), (stderr, err_more), status))) => {
            let mut text = String::from_utf8_lossy(&stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&stderr));
            ProbeOutput {
                command: command.to_owned(),
                output: cut(text.trim_end(), out_more + err_more),
                exit: status.code(),
            }
        }
        Ok(Err(error)) => failed(command, format!("cannot read its output: {error}")),
        Err(_) => {
            // The shell and whatever it started: nothing of the probe outlives it.
            if let Some(group) = group {
                let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
            }
            failed(
                command,
                format!("no answer within {} s (killed)", timeout.as_secs_f32()),
            )
        }
    }
}

/// Up to [`MAX_OUTPUT`] bytes of `pipe`, and how many more it gave (read
/// and dropped, so the probe is not blocked on a full pipe).
async fn bounded(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<(Vec<u8>, u64)> {
    let Some(mut pipe) = pipe else {
        return Ok((Vec::new(), 0));
    };
    let mut kept = Vec::new();
    (&mut pipe)
        .take(MAX_OUTPUT as u64)
        .read_to_end(&mut kept)
        .await?;
    let more = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await?;
    Ok((kept, more))
}

/// `text` cut to [`MAX_OUTPUT`] bytes, marked when anything (`more` bytes
/// already dropped, or its own tail) was left out.
fn cut(text: &str, more: u64) -> String {
    let mut end = text.len().min(MAX_OUTPUT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let more = more + (text.len() - end) as u64;
    if more == 0 {
        return text.to_owned();
    }
    format!("{}\n… truncated ({more} bytes more)", &text[..end])
}

fn failed(command: &str, problem: String) -> ProbeOutput {
    ProbeOutput {
        command: command.to_owned(),
        output: problem,
        exit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_unbounded() {
        // `yes | head -c 20000000` as a probe kept 30 MB per deploy record.
        let dir = std::env::temp_dir();
        let probe = run("yes | head -c 20000000", &[], &dir, Duration::from_secs(60));
        assert_eq!(probe.exit, Some(0));
        assert!(
            probe.output.len() < MAX_OUTPUT + 100,
            "{}",
            probe.output.len()
        );
        assert!(
            probe.output.ends_with("bytes more)"),
            "{}",
            &probe.output[probe.output.len() - 60..]
        );
    }

    #[test]
    fn output_status_and_timeout() {
        let dir = std::env::temp_dir();
        let env = vec![("PROBE_WORD".to_owned(), "Ver 8.0.1".to_owned())];
        let probe = run(
            "echo \"mysql $PROBE_WORD\"; echo warn >&2",
            &env,
            &dir,
            Duration::from_secs(5),
        );
        assert_eq!(probe.output, "mysql Ver 8.0.1\nwarn");
        assert_eq!(probe.exit, Some(0));
        let probe = run("exit 3", &env, &dir, Duration::from_secs(5));
        assert_eq!(probe.exit, Some(3));
        let probe = run("sleep 30", &env, &dir, Duration::from_millis(200));
        assert_eq!(probe.exit, None);
        assert!(
            probe.output.contains("no answer within"),
            "{}",
            probe.output
        );
    }
}
