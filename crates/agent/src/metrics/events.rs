//! What the agent did, counted: switches it was asked for (deploys and
//! rollbacks), its own automatic rollbacks, and crash restarts of the live
//! process. Each is rare, so plain atomics bumped where it happens; the
//! counters are read at scrape time.

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why the agent switched the route on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// A forward move (`hoist deploy`, a promote): watched after the switch.
    Deploy,
    /// Back to an earlier release (`hoist rollback`; the agent's own
    /// rollback is counted as an [`AutoRollback`]).
    Rollback,
}

/// How an automatic rollback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AutoRollback {
    /// The good release serves again.
    Done,
    /// Refused (nothing good to go back to, the site lock held, ...): the bad one still serves.
    Refused,
    /// Tried and failed.
    Failed,
}

/// The counters. Outcomes are `ok`/`failed` (switches, restarts) and
/// `done`/`refused`/`failed` (automatic rollbacks).
#[derive(Debug, Default)]
pub(crate) struct Events {
    /// `[deploy ok, deploy failed, rollback ok, rollback failed]`.
    switches: [AtomicU64; 4],
    /// `[done, refused, failed]`.
    auto_rollbacks: [AtomicU64; 3],
    /// `[ok, failed]`.
    restarts: [AtomicU64; 2],
}

impl Events {
    /// Counts a switch the admin API was asked for.
    pub(crate) fn switched(&self, switch: Switch, ok: bool) {
        let index = match switch {
            Switch::Deploy => 0,
            Switch::Rollback => 2,
        } + usize::from(!ok);
        self.switches[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an automatic rollback.
    pub(crate) fn auto_rolled_back(&self, outcome: AutoRollback) {
        self.auto_rollbacks[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a restart of the live process after it exited on its own.
    pub(crate) fn restarted(&self, ok: bool) {
        self.restarts[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the counters as three families.
    pub(crate) fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let switches = [
            ("hoist_deploys", "Switches to a new release the agent was asked for (deploy, promote), by outcome.", 0),
            ("hoist_rollbacks", "Switches back to an earlier release the agent was asked for (hoist rollback; automatic ones are hoist_auto_rollbacks_total), by outcome.", 2),
        ];
        for (name, help, first) in switches {
            let counter = ConstCounter::new(0u64);
            let mut family = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            for (offset, outcome) in ["ok", "failed"].into_iter().enumerate() {
                let labels = [("outcome", outcome)];
                ConstCounter::new(read(&self.switches[first + offset]))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "hoist_auto_rollbacks",
            "Automatic rollbacks after a release failed its after-switch watch, by outcome (done, refused: the bad release still serves, failed).",
            None,
            ConstCounter::new(0u64).metric_type(),
        )?;
        for (counter, outcome) in self
            .auto_rollbacks
            .iter()
            .zip(["done", "refused", "failed"])
        {
            ConstCounter::new(read(counter))
                .encode(family.encode_family(&[("outcome", outcome)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "hoist_app_restarts",
            "Restarts of the live app process after it exited on its own (crash restarts), by outcome.",
            None,
            ConstCounter::new(0u64).metric_type(),
        )?;
        for (counter, outcome) in self.restarts.iter().zip(["ok", "failed"]) {
            ConstCounter::new(read(counter))
                .encode(family.encode_family(&[("outcome", outcome)])?)?;
        }
        Ok(())
    }
}
