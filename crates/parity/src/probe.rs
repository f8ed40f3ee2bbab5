//! One probe: `sh -c COMMAND` in the release's directory with the site's
//! environment, stdout then stderr (`perl -v` writes one, `java -version`
//! the other), bounded by a timeout. A probe that hangs is killed with its
//! whole process group, so a deploy never waits on it past the timeout.

use crate::ProbeOutput;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::time::Duration;

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
    let child = match process.spawn() {
        Ok(child) => child,
        Err(error) => return failed(command, format!("cannot run `sh`: {error}")),
    };
    let group = child.id().and_then(|id| i32::try_from(id).ok());
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            ProbeOutput {
                command: command.to_owned(),
                output: text.trim_end().to_owned(),
                exit: output.status.code(),
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
