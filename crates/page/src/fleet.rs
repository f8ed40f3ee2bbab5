//! A [`StagePage`] from `hoist status --stage`'s judged answers (feature
//! `fleet`, which the binary turns on and the agent does not need).

use crate::model::{HostRow, StagePage};
use hoist_fleet::{Drift, HostStatus, StageStatus};

/// The page of `status`, built now by `generator`.
pub fn stage_page(status: &StageStatus, generator: &str) -> StagePage {
    StagePage {
        generator: generator.to_owned(),
        generated_at: jiff::Timestamp::now(),
        stage: status.stage.clone(),
        release: status.release.clone(),
        data: status.data.clone(),
        hosts: status.hosts.iter().map(host_row).collect(),
    }
}

fn host_row(host: &HostStatus) -> HostRow {
    let state = &host.answer.state;
    let schema = state.schema.as_ref().map(|schema| {
        let mut cell = schema.name.clone().unwrap_or_else(|| "empty".to_owned());
        if schema.pending > 0 {
            cell.push_str(&format!(" +{} pending", schema.pending));
        }
        if schema.dirty.is_some() {
            cell.push_str(" DIRTY");
        }
        cell
    });
    HostRow {
        host: host.answer.host.clone(),
        answered: host.answer.error.is_none(),
        live: state.live.clone(),
        version: state.live_version.clone(),
        deployed_at: state.deployed_at,
        deployed_by: state.deployed_by.clone(),
        previous: state.previous.clone(),
        data: state.data.clone(),
        schema,
        agent: state
            .agent
            .as_ref()
            .map(|agent| format!("pid {}, {} in flight", agent.pid, agent.in_flight)),
        maintenance: state.maintenance(),
        drift: host
            .drift
            .iter()
            .map(|drift| (kind(drift).to_owned(), drift.to_string()))
            .collect(),
    }
}

/// The drift's `kind`, as `--json` spells it.
fn kind(drift: &Drift) -> &'static str {
    match drift {
        Drift::Unreachable { .. } => "unreachable",
        Drift::NoAnswer { .. } => "no-answer",
        Drift::Release { .. } => "release",
        Drift::Data { .. } => "data",
        Drift::Locked { .. } => "locked",
        Drift::FleetLocked { .. } => "fleet-locked",
        Drift::Interrupted { .. } => "interrupted",
        Drift::Drained { .. } => "drained",
        Drift::Hoist { .. } => "hoist",
    }
}
