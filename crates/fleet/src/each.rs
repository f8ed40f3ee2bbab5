//! What the stage-wide `data`, `maint` and `prune` share: open one fleet
//! operation on every host (connect, same hoist, every fleet lock in
//! sorted order), run one step on every host a bounded number at a time,
//! and report each host's part.
//!
//! ```text
//! open: connect ─ version ─ hold (sorted) ─▶ each(step) ─▶ close: release every hold
//! ```

use crate::hold::Holds;
use crate::open::Target;
use crate::{hold, new_op_id, FleetError, Host, Progress};
use serde::Serialize;
use std::future::Future;
use tokio::sync::Semaphore;

/// A stage, and who acts on it from this machine: a fleet operation's
/// [`Target`], the same for deploys and for these.
pub type StagePlan = Target;

/// Every host of a stage, connected and locked for one fleet operation.
pub(crate) struct Opened {
    /// The hosts, in stage order, each running commands under `op`.
    pub(crate) hosts: Vec<Host>,
    /// The fleet operation id, in every host's ledger.
    pub(crate) op: String,
    holds: Holds,
}

impl StagePlan {
    /// Connects to every host, checks each runs this hoist and has no
    /// interrupted operation, and takes every fleet lock for `what`. All
    /// or nothing: on error no host is held.
    pub(crate) async fn open(
        &self,
        what: &str,
        progress: &dyn Progress,
    ) -> Result<Opened, FleetError> {
        let op = new_op_id();
        let hosts = crate::open::reach_all(self, &op, progress).await?;
        let holds = hold::hold_all(&hosts, &op, &self.by, what, progress).await?;
        Ok(Opened { hosts, op, holds })
    }

    /// Runs `step(index, host)` on every host of `hosts`, at most
    /// `max_connections` at once; the results come in the hosts' order.
    pub(crate) async fn each<'a, T, F, Fut>(&self, hosts: &'a [Host], step: F) -> Vec<T>
    where
        F: Fn(usize, &'a Host) -> Fut,
        Fut: Future<Output = T>,
    {
        let gate = Semaphore::new(self.stage.max_connections.max(1));
        let gate = &gate;
        futures_util::future::join_all(hosts.iter().enumerate().map(|(index, host)| {
            let run = step(index, host);
            async move {
                let _permit = gate.acquire().await.expect("the gate is never closed");
                run.await
            }
        }))
        .await
    }
}

impl Opened {
    /// Releases every host's fleet lock.
    pub(crate) async fn close(self) {
        self.holds.release().await;
    }
}

/// What one stage-wide operation did on every host.
#[derive(Debug, Clone, Serialize)]
pub struct StageRun<T> {
    /// The stage.
    pub stage: String,
    /// The fleet operation id, in every host's ledger.
    pub fleet_op: String,
    /// `data load`, `data roll`, `data revert`, `maint on`, `maint off`, `prune`.
    pub action: String,
    /// The data version every host got or went to (data operations).
    pub version: Option<String>,
    /// `done`, or `failed` (then the error says what became of the others).
    pub outcome: &'static str,
    /// Each host, in stage order.
    pub hosts: Vec<HostRun<T>>,
    /// Wall time.
    pub duration_ms: u64,
}

/// One host's part.
#[derive(Debug, Clone, Serialize)]
pub struct HostRun<T> {
    /// The host as the stage names it.
    pub host: String,
    /// What happened there: `done`, `failed`, and per operation `sent`,
    /// `had-it`, `copied`, `rolled`, `already-live`, `put-back`,
    /// `not-put-back`.
    pub outcome: &'static str,
    /// Why it failed, when it did.
    pub problem: Option<String>,
    /// The operation's own detail (bytes sent, data live before and after,
    /// the host's answer).
    pub detail: Option<T>,
}

impl<T> HostRun<T> {
    /// A host that did its part.
    pub(crate) fn done(host: &Host, outcome: &'static str, detail: T) -> HostRun<T> {
        HostRun {
            host: host.name.clone(),
            outcome,
            problem: None,
            detail: Some(detail),
        }
    }

    /// A host that failed.
    pub(crate) fn failed(host: &Host, problem: &FleetError) -> HostRun<T> {
        HostRun::failed_named(&host.name, problem)
    }

    /// A host that failed before it was connected to (unreachable).
    pub(crate) fn failed_named(host: &str, problem: &FleetError) -> HostRun<T> {
        HostRun {
            host: host.to_owned(),
            outcome: "failed",
            problem: Some(problem.to_string()),
            detail: None,
        }
    }
}

impl<T> StageRun<T> {
    /// An empty report for `action` on `plan`'s stage under `op`.
    pub(crate) fn new(plan: &StagePlan, op: &str, action: String) -> StageRun<T> {
        StageRun {
            stage: plan.stage_name.clone(),
            fleet_op: op.to_owned(),
            action,
            version: None,
            outcome: "done",
            hosts: Vec::new(),
            duration_ms: 0,
        }
    }

    /// The report of a run that began at `started` and ended as `result`:
    /// its wall time, and `failed` with the error when it failed.
    // The report rides with the error (the `Failed` every stage operation
    // returns), once per command: its size costs nothing.
    #[allow(clippy::result_large_err)]
    pub(crate) fn settle(
        mut self,
        started: std::time::Instant,
        result: Result<(), FleetError>,
    ) -> Result<StageRun<T>, Failed<T>> {
        self.duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(()) => Ok(self),
            Err(error) => {
                self.outcome = "failed";
                Err((error, Some(self)))
            }
        }
    }

    /// The hosts that failed, and why.
    pub(crate) fn failures(&self) -> Vec<(String, String)> {
        self.hosts
            .iter()
            .filter(|host| host.outcome == "failed")
            .map(|host| (host.host.clone(), host.problem.clone().unwrap_or_default()))
            .collect()
    }
}

/// A failed operation's error, with its report when it got as far as hosts.
pub type Failed<T> = (FleetError, Option<StageRun<T>>);

/// How a step every host takes together failed on some hosts, and what
/// became of the others.
#[derive(Debug)]
pub struct Partial {
    /// `data roll 20261201T...`, `maint on`, `prune`.
    pub action: String,
    /// Each failing host and why.
    pub failures: Vec<(String, String)>,
    /// What became of the others (`put back the data live before`).
    pub after: &'static str,
    /// Hosts that were put back.
    pub undone: Vec<String>,
    /// Hosts that could not be put back, and why.
    pub not_undone: Vec<(String, String)>,
    /// The stage, for the hint.
    pub stage: String,
}

impl Partial {
    /// `action` failed on `failures`; the others are as `after` says,
    /// nothing was undone.
    pub(crate) fn error(
        action: String,
        failures: Vec<(String, String)>,
        after: &'static str,
        stage: &str,
    ) -> FleetError {
        Partial {
            action,
            failures,
            after,
            undone: Vec::new(),
            not_undone: Vec::new(),
            stage: stage.to_owned(),
        }
        .into()
    }
}

impl From<Partial> for FleetError {
    fn from(partial: Partial) -> FleetError {
        FleetError::NotTogether(Box::new(partial))
    }
}

impl std::fmt::Display for Partial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = crate::error::list;
        write!(
            f,
            "{} failed on {}; {}",
            self.action,
            list(&self.failures),
            self.after
        )?;
        if !self.undone.is_empty() {
            let names: Vec<String> = self.undone.iter().map(|host| format!("`{host}`")).collect();
            write!(f, " on {}", names.join(", "))?;
        }
        if !self.not_undone.is_empty() {
            write!(f, "; NOT put back: {}", list(&self.not_undone))?;
        }
        Ok(())
    }
}
