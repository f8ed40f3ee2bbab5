//! Maintenance as the agent keeps it: switched on by command (persisted),
//! or by the `<root>/maintenance` flag file that existing scripts `touch`.

use crate::Agent;
use hoist_proxy::Maintenance;
use std::sync::Arc;
use std::time::Duration;

/// How often the flag file is looked at.
const FLAG_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The two sources; the command wins over the flag file.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    pub(crate) command: Option<Maintenance>,
    pub(crate) flag: Option<Maintenance>,
}

impl Sources {
    pub(crate) fn effective(&self) -> (Option<Maintenance>, Option<&'static str>) {
        match (&self.command, &self.flag) {
            (Some(command), _) => (Some(command.clone()), Some("command")),
            (None, Some(flag)) => (Some(flag.clone()), Some("flag-file")),
            (None, None) => (None, None),
        }
    }
}

/// Reads the flag file: its content is the message.
fn read_flag(agent: &Agent) -> Option<Maintenance> {
    let text = std::fs::read_to_string(agent.site().root().join("maintenance")).ok()?;
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
