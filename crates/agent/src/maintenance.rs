//! Maintenance as the agent keeps it: switched on by command (persisted),
//! or by the `<root>/maintenance` flag file that existing scripts `touch`.

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

/// Reads the flag file: its content is the message.
fn read_flag(agent: &Agent) -> Option<Maintenance> {
    let text = std::fs::read_to_string(agent.flag_file()).ok()?;
    let message = text.trim();
    let message = if message.is_empty() {
        "We are doing some scheduled maintenance."
    } else {
        message
    };
    Some(Maintenance {
        message: message.to_owned(),
        ..Maintenance::default()
    })
}

/// Follows the flag file for as long as the agent runs.
pub(crate) fn follow_flag_file(agent: &Arc<Agent>) {
    let agent = Arc::downgrade(agent);
    tokio::spawn(async move {
        loop {
            let Some(agent) = agent.upgrade() else { return };
            let flag = read_flag(&agent);
            agent.set_flag_maintenance(flag);
            drop(agent);
            tokio::time::sleep(FLAG_CHECK_EVERY).await;
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
    let agent = Arc::downgrade(agent);
    tokio::spawn(async move {
        loop {
            let now = jiff::Timestamp::now();
            let active = hoist_config::active_window(&windows, now).map(|window| Maintenance {
                message: window.message,
                until: Some(window.end),
                ..Maintenance::default()
            });
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
            tokio::time::sleep(wait).await;
        }
    });
}
