//! Which `[process]` (and `[data]` reload) a release runs with.
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
    // A `[process]` with only host keys (`env_file`, for external mode) names no app settings.
    if !names_command(&path) {
        return Ok(site_process.clone());
    }
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

/// Whether the `[process]` of the config at `path` sets `command` at all.
fn names_command(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| table.get("process")?.get("command").cloned())
        .is_some()
}

/// How a data roll reaches `release`'s app: the `reload` and
/// `reload_grace` of the `[data]` it ships, or the site's when it ships no
/// `[data]` (or its `hoist.toml` cannot be read: it was checked when the
/// release started). The data header and retention stay the site's.
pub(crate) fn data_for(
    site: &Site,
    site_data: &hoist_config::Data,
    release: &str,
) -> hoist_config::Data {
    let path = site.release_dir(release).join(hoist_config::FILE_NAME);
    let ships_data = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| table.contains_key("data"));
    match Config::load(&path) {
        Ok(shipped) if ships_data => {
            let mut data = site_data.clone();
            data.reload = shipped.data.reload;
            data.reload_grace = shipped.data.reload_grace;
            data
        }
        _ => site_data.clone(),
    }
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
