//! What the stage's balancer says of a host a fleet operation marked as
//! drained.
//!
//! The `fleet-drained` mark is written on the host before it is drained
//! (journal first), so after a killed fleet operation it means "may have
//! been drained": the operation may have died before the drain, or after
//! the balancer already put the host back by its own checks. `hoist status
//! --stage` asks the balancer, and says what it reports.

use crate::{balance, HostAnswer, Reach};
use hoist_balancer::ServerStatus;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// How long the balancer may take to answer (connecting over ssh included).
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// A host's state as the stage's balancer reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtBalancer {
    /// What it reports (`null` when it could not be asked).
    pub status: Option<ServerStatus>,
    /// Why it could not be asked.
    pub problem: Option<String>,
}

/// Asks the stage's balancer (when it has one) about every answered host
/// that carries a `fleet-drained` mark; the others are left unasked.
pub async fn ask_balancer(
    stage: &hoist_config::Stage,
    reach: &Arc<Reach>,
    answers: &mut [HostAnswer],
) {
    let marked = |answer: &HostAnswer| answer.state.fleet_drained.is_some();
    if stage.balancer.is_none() || !answers.iter().any(marked) {
        return;
    }
    let views = tokio::time::timeout(ANSWER_WITHIN, view(stage, reach, answers))
        .await
        .unwrap_or_else(|_| {
            let problem = format!("it did not answer within {} s", ANSWER_WITHIN.as_secs());
            vec![unasked(problem); answers.len()]
        });
    for (answer, view) in answers.iter_mut().zip(views) {
        if marked(answer) {
            answer.at_balancer = Some(view);
        }
    }
}

/// One view per answer, in order.
async fn view(
    stage: &hoist_config::Stage,
    reach: &Arc<Reach>,
    answers: &[HostAnswer],
) -> Vec<AtBalancer> {
    if matches!(
        stage.balancer.as_ref().map(|config| &config.kind),
        Some(hoist_config::BalancerKind::Hoist)
    ) {
        let problem = "a hoist balancer does not report a backend's state".to_owned();
        return vec![unasked(problem); answers.len()];
    }
    let connected = match balance::connect(stage, reach).await {
        Ok(Some(connected)) => connected,
        Ok(None) => return vec![unasked("the stage has none".to_owned()); answers.len()],
        Err(error) => return vec![unasked(error.to_string()); answers.len()],
    };
    let names: Vec<String> = answers.iter().map(|answer| answer.host.clone()).collect();
    let balancer = connected.balancer.clone();
    let views = tokio::task::spawn_blocking(move || {
        names
            .iter()
            .map(|name| match balancer.status(name) {
                Ok(status) => AtBalancer {
                    status: Some(status),
                    problem: None,
                },
                Err(error) => unasked(error.to_string()),
            })
            .collect()
    })
    .await
    .expect("balancer calls do not panic");
    drop(connected);
    views
}

fn unasked(problem: String) -> AtBalancer {
    AtBalancer {
        status: None,
        problem: Some(problem),
    }
}

/// The balancer's word for `status` (HAProxy's).
pub(crate) fn word(status: &ServerStatus) -> &str {
    match status {
        ServerStatus::Up => "UP",
        ServerStatus::Down => "DOWN",
        ServerStatus::Drain => "DRAIN",
        ServerStatus::Maint => "MAINT",
        ServerStatus::Other(text) => text,
        _ => "in an unknown state",
    }
}
