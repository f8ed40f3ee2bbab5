//! The site's command runner, with spawn failures as deploy errors.

use crate::DeployError;
use std::path::Path;

pub(crate) use hoist_site::command::Finished;

/// Runs `command` with `sh -c` in `dir`, with the release's identity in the environment.
pub(crate) fn run(
    command: &str,
    dir: &Path,
    env: &[(&str, &str)],
) -> Result<Finished, DeployError> {
    hoist_site::command::run(command, dir, env).map_err(|source| DeployError::Spawn {
        command: command.to_owned(),
        cause: source,
    })
}

/// Runs `program` as built (no shell) in `dir`; `shown` names it in errors.
pub(crate) fn run_command(
    program: std::process::Command,
    shown: &str,
    dir: &Path,
    env: &[(&str, &str)],
) -> Result<Finished, DeployError> {
    hoist_site::command::run_command(program, dir, env).map_err(|source| DeployError::Spawn {
        command: shown.to_owned(),
        cause: source,
    })
}
