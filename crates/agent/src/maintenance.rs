//! Maintenance as the agent keeps it: switched on by command (persisted),
//! by the `<root>/maintenance` flag file that existing scripts `touch`, or
//! by a `[[maintenance.window]]`. The flag file and the windows are their
//! own record, so only the command is saved; a restarted or upgraded agent
//! reads the other two once before it serves ([`read_now`]) and then follows
//! them.

use crate::Agent;
use hoist_proxy::Maintenance;
use std::sync::Arc;
use std::time::Duration;

/// How often the flag file is looked at.
const FLAG_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The three sources; the command wins over the flag file, which wins over the schedule.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    pub(crate) command: Option<Maintenance>,
    pub(crate) flag: Option<Maintenance>,
    pub(crate) schedule: Option<Maintenance>,
}

impl Sources {
    /// Every source that asks for maintenance now, the one in force first.
    pub(crate) fn active(&self) -> Vec<String> {
        [
            (&self.command, "command"),
            (&self.flag, "flag-file"),
            (&self.schedule, "schedule"),
        ]
        .into_iter()
        .filter(|(maintenance, _)| maintenance.is_some())
        .map(|(_, name)| name.to_owned())
        .collect()
    }

    pub(crate) fn effective(&self) -> (Option<Maintenance>, Option<&'static str>) {
        let sources = [
            (&self.command, "command"),
            (&self.flag, "flag-file"),
            (&self.schedule, "schedule"),
        ];
        sources
            .into_iter()
            .find_map(|(maintenance, name)| {
                maintenance
                    .clone()
                    .map(|maintenance| (Some(maintenance), Some(name)))
            })
            .unwrap_or((None, None))
    }
}

/// At most this much of the flag file becomes the message: it is shown on
/// every 503 page, so a big file would be sent with every request.
const MAX_FLAG_BYTES: u64 = 4 * 1024;

/// What the flag file says: `Ok(None)` when there is none, `Err` when
/// something is there that is not a flag file to trust.
fn read_flag(agent: &Agent) -> Result<Option<Maintenance>, String> {
    use std::io::Read;
    let relative = agent.flag_file_relative();
    let site = hoist_beneath::Dir::open(agent.site().root())
        .map_err(|error| format!("cannot open the site root: {error}"))?;
    // Beneath the site, through no symlink: a link to a root-only file
    // would put that file's content on the public page.
    let file = match site.open_file(&relative) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) if hoist_beneath::is_through_link(&error) => {
            return Err(format!(
                "`{}` is a symlink (or under one); maintenance stays as it was. Use a plain file",
                relative.display()
            ))
        }
        Err(error) => return Err(format!("cannot read `{}`: {error}", relative.display())),
    };
    let is_file = file.metadata().is_ok_and(|metadata| metadata.is_file());
    if !is_file {
        return Err(format!(
            "`{}` is not a regular file; maintenance stays as it was",
            relative.display()
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FLAG_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read `{}`: {error}", relative.display()))?;
    // Text only: control bytes (a sparse file is all NULs) are dropped.
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    let written = text.trim();
    let message = if written.is_empty() {
        "We are doing some scheduled maintenance."
    } else {
        written
    };
    Ok(Some(Maintenance {
        message: message.to_owned(),
        until: sidecar_until(&site, &relative, written),
        ..Maintenance::default()
    }))
}

/// The `until` that `hoist maint on --until` (run with no agent) kept in
/// `<flag>.json` beside the flag file, read the same way: beneath the site,
/// through no symlink, a few KB at most. It counts only while the flag
/// file still says the message it recorded (`written`): a flag written
/// anew by a script is not dated by a stale record.
fn sidecar_until(
    site: &hoist_beneath::Dir,
    flag: &std::path::Path,
    written: &str,
) -> Option<jiff::Timestamp> {
    use std::io::Read;
    #[derive(serde::Deserialize)]
    struct Record {
        message: String,
        until: Option<jiff::Timestamp>,
    }
    let mut name = flag.as_os_str().to_owned();
    name.push(".json");
    let mut bytes = Vec::new();
    site.open_file(std::path::Path::new(&name))
        .ok()?
        .take(MAX_FLAG_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    let record = serde_json::from_slice::<Record>(&bytes).ok()?;
    let message: String = (record.message.chars())
        .filter(|c| !c.is_control() || *c == '\n')
        .collect();
    (message.trim() == written).then_some(record.until)?
}

/// Reads the flag file and the windows once, now: a restarted or upgraded
/// agent must know them before its first request, not a tick later.
pub(crate) fn read_now(agent: &Agent, windows: &[hoist_config::Window]) {
    match read_flag(agent) {
        Ok(flag) => agent.set_flag_maintenance(flag),
        Err(problem) => tracing::warn!(%problem, "maintenance flag file refused"),
    }
    agent.set_schedule_maintenance(scheduled(windows, jiff::Timestamp::now()));
}

/// The maintenance a window asks for at `now`, if one is open.
fn scheduled(windows: &[hoist_config::Window], now: jiff::Timestamp) -> Option<Maintenance> {
    hoist_config::active_window(windows, now).map(|window| Maintenance {
        message: window.message,
        until: Some(window.end),
        ..Maintenance::default()
    })
}

/// Follows the flag file for as long as the agent runs. A flag file that
/// cannot be trusted leaves maintenance as it was, and is logged once.
pub(crate) fn follow_flag_file(agent: &Arc<Agent>) {
    let shutdown = agent.shutdown_token().clone();
    let spawner = Arc::clone(agent);
    let agent = Arc::downgrade(agent);
    spawner.spawn_loop(async move {
        let mut last_problem: Option<String> = None;
        loop {
            let Some(agent) = agent.upgrade() else { return };
            match read_flag(&agent) {
                Ok(flag) => {
                    last_problem = None;
                    agent.set_flag_maintenance(flag);
                }
                Err(problem) => {
                    if last_problem.as_ref() != Some(&problem) {
                        tracing::warn!(%problem, "maintenance flag file refused");
                        last_problem = Some(problem);
                    }
                }
            }
            drop(agent);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(FLAG_CHECK_EVERY) => {}
            }
        }
    });
}

/// Switches maintenance on and off at the configured windows, sleeping
/// until the next boundary (re-checked at least every minute, in case the
/// clock is stepped).
pub(crate) fn follow_schedule(agent: &Arc<Agent>, windows: Vec<hoist_config::Window>) {
    if windows.is_empty() {
        return;
    }
    let shutdown = agent.shutdown_token().clone();
    let spawner = Arc::clone(agent);
    let agent = Arc::downgrade(agent);
    spawner.spawn_loop(async move {
        loop {
            let now = jiff::Timestamp::now();
            let active = scheduled(&windows, now);
            let Some(strong) = agent.upgrade() else {
                return;
            };
            strong.set_schedule_maintenance(active);
            drop(strong);
            let next = hoist_config::next_windows(&windows, now, 1)
                .first()
                .map(|window| {
                    if window.start > now {
                        window.start
                    } else {
                        window.end
                    }
                });
            let wait = next
                .and_then(|at| Duration::try_from(at.duration_since(now)).ok())
                .unwrap_or(Duration::from_secs(60))
                .clamp(Duration::from_millis(20), Duration::from_secs(60));
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    });
}
