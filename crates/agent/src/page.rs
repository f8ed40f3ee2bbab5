//! The status page (`hoist-page`) as the agent serves it at `/` on the
//! metrics listener: read-only, built afresh for each request from the
//! site's files and the agent's own view of what it serves.

use crate::{Agent, AgentStatus};
use hoist_page::model::{MaintenanceView, Traffic};
use hoist_page::{Extras, Serving};
use std::sync::Arc;

impl From<&AgentStatus> for Serving {
    fn from(status: &AgentStatus) -> Serving {
        Serving {
            pid: status.pid,
            listen: status.listen.clone(),
            in_flight: status.in_flight,
            live: status.live.as_ref().map(|live| live.release.clone()),
            warm: status
                .warm
                .iter()
                .map(|warm| (warm.release.clone(), warm.until))
                .collect(),
            candidate: status
                .candidate
                .as_ref()
                .map(|candidate| (candidate.release.clone(), candidate.percent)),
            maintenance: status
                .maintenance
                .as_ref()
                .map(|maintenance| MaintenanceView {
                    message: maintenance.message.clone(),
                    until: maintenance.until,
                    source: status
                        .maintenance_source
                        .clone()
                        .unwrap_or_else(|| "command".to_owned()),
                }),
            // The agent's counters are `BackendStats` as JSON; `Traffic`
            // names its fields the same.
            traffic: status
                .releases
                .iter()
                .filter_map(|stats| serde_json::from_value::<Traffic>(stats.clone()).ok())
                .collect(),
        }
    }
}

/// The page, now: the agent's status, then the site's files read on a
/// blocking thread (ledger and catalog reads must not stall the runtime).
pub(crate) async fn render(agent: &Arc<Agent>) -> Result<String, String> {
    let serving = Serving::from(&agent.status().await);
    let root = agent.site().root().to_owned();
    let extras = Extras {
        agent: Some(serving),
        ..Extras::default()
    };
    tokio::task::spawn_blocking(move || {
        hoist_page::site_page(&root, extras)
            .map(|page| hoist_page::render(&page))
            .map_err(|error| error.to_string())
    })
    .await
    .map_err(|error| error.to_string())?
}
