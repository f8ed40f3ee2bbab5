//! Which `[process]` a release runs with.
//!
//! A release ships its own `hoist.toml`, and the app-level keys of its
//! `[process]` are the release's: `command`, `health_path`,
//! `healthy_after`, `health_timeout`, `stop_signal`, `stop_timeout`,
//! `drain_timeout`, `watch` and `max_error_rate` (a new release may need
//! more workers, another start command, a slower health check). The keys
//! that are site policy come from the config the agent was started with,
//! whatever a release says: `env_file` (the secrets on this host),
//! `rollback_window` and `max_warm` (what this host keeps running), like
//! `[proxy]` and the admin token. A release with no `hoist.toml`, or none
//! with a `[process]`, runs with the site's.
//!
//! A release whose `hoist.toml` does not parse, or whose `[process]` has
//! no command, is refused before anything of it starts, naming the file
//! and the key.

use crate::AgentError;
use hoist_config::{Config, Process as ProcessConfig};
use hoist_site::Site;
use nix::sys::signal::Signal;

/// The `[process]` `release` runs with: its own with the site's policy
/// keys, or the site's when it ships none.
pub(super) fn for_release(
    site: &Site,
    site_process: &ProcessConfig,
    release: &str,
) -> Result<ProcessConfig, AgentError> {
    let path = site.release_dir(release).join(hoist_config::FILE_NAME);
    if !path.is_file() {
        return Ok(site_process.clone());
    }
    let refused = |problem: String| AgentError::ReleaseConfig {
        release: release.to_owned(),
        problem,
    };
    let shipped = Config::load(&path).map_err(|error| refused(error.to_string()))?;
    let Some(mut own) = shipped.process else {
        return Ok(site_process.clone());
    };
    if own.command.trim().is_empty() {
        return Err(refused(format!(
            "invalid config `{}`: `process.command` is empty",
            path.display()
        )));
    }
    own.env_file.clone_from(&site_process.env_file);
    own.rollback_window = site_process.rollback_window;
    own.max_warm = site_process.max_warm;
    Ok(own)
}

/// The signal `[process] stop_signal` names (the config checked it).
pub(crate) fn signal(name: &str) -> Signal {
    match name.trim_start_matches("SIG") {
        "QUIT" => Signal::SIGQUIT,
        "INT" => Signal::SIGINT,
        "HUP" => Signal::SIGHUP,
        "USR1" => Signal::SIGUSR1,
        "USR2" => Signal::SIGUSR2,
        _ => Signal::SIGTERM,
    }
}
