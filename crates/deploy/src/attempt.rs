//! An operation as the ledger sees it before (and whether or not) it is
//! journaled: what it started from and what it aimed at, so that one that
//! is refused, or finds nothing to do, is recorded as exactly as one that
//! ran.
//!
//! ```text
//! Attempt::new ─ (lock, checks: aimed_at, started_from) ─┬─ refused: record `refused`, error
//!                                                        ├─ nothing to do: record `noop`
//!                                                        └─ journaled: the journal records it
//! ```

use crate::{Context, DeployError, Reporter};
use hoist_ledger::{Event, Outcome, Write};
use hoist_site::Op;

/// What `op` aims at, given the release live when it began and its
/// target: (`to`, `candidate`). A hold or abort keeps the live release and
/// names the candidate; a promote goes to its candidate; prune keeps the
/// live release; the rest go to their target.
pub(crate) fn aim(
    op: Op,
    from: Option<&str>,
    target: Option<&str>,
) -> (Option<String>, Option<String>) {
    let target = target.map(str::to_owned);
    match op {
        Op::Hold | Op::Abort => (from.map(str::to_owned), target),
        Op::Promote => (target.clone(), target),
        // The repaired release is the event's `release`; what runs stays.
        Op::Prune | Op::Repair | Op::Stage | Op::DbComplete | Op::DbAbort => {
            (from.map(str::to_owned), None)
        }
        Op::Deploy
        | Op::Rollback
        | Op::AutoRollback
        | Op::Restart
        | Op::DataRoll
        | Op::DataRevert => (target, None),
    }
}

/// An operation on its way to its journal.
#[derive(Debug)]
pub struct Attempt {
    op: Op,
    from: Option<String>,
    target: Option<String>,
    reason: Option<String>,
    started_at: jiff::Timestamp,
    /// Set once the journal began: from then on the journal records it.
    journaled: bool,
}

impl Attempt {
    /// `op` begins now, from the release live now, aimed at `target` if known yet.
    pub fn new(
        context: &Context,
        op: Op,
        target: Option<String>,
        reason: Option<String>,
    ) -> Attempt {
        Attempt {
            op,
            from: context.site.live().ok().flatten(),
            target,
            reason,
            started_at: jiff::Timestamp::now(),
            journaled: false,
        }
    }

    /// The live release as read under the lock.
    pub(crate) fn started_from(&mut self, live: Option<&str>) {
        self.from = live.map(str::to_owned);
    }

    /// The release it aims at, once known (e.g. the previous release).
    pub(crate) fn aimed_at(&mut self, target: &str) {
        self.target = Some(target.to_owned());
    }

    /// The release it aimed at, and the one live when it began (what a
    /// failure notification names).
    pub(crate) fn ends(&self) -> (Option<String>, Option<String>) {
        (self.target.clone(), self.from.clone())
    }

    /// The journal began: it records the rest.
    pub(crate) fn journaled(&mut self) {
        self.journaled = true;
    }

    /// Whether it began changing the site (its journal began). A refusal
    /// before that (a lock held, no such release) changed nothing, so it
    /// is recorded as `refused` but told to no `[[notify]]` entry as a
    /// failure.
    pub(crate) fn began(&self) -> bool {
        self.journaled
    }

    /// Records a refusal decided before the operation reached the library
    /// (e.g. `hoist promote` with no candidate held).
    pub fn refused(&self, context: &Context, problem: &str, reporter: &dyn Reporter) {
        self.record(context, Outcome::Refused, problem, reporter);
    }

    /// Records that there was nothing to do.
    pub fn noop(&self, context: &Context, detail: &str, reporter: &dyn Reporter) {
        self.record(context, Outcome::Noop, detail, reporter);
    }

    /// Hands `result` on; an error before the journal began is recorded as a refusal.
    pub(crate) fn settle<T>(
        &self,
        context: &Context,
        result: Result<T, DeployError>,
        reporter: &dyn Reporter,
    ) -> Result<T, DeployError> {
        if let (Err(error), false) = (&result, self.journaled) {
            self.record(context, Outcome::Refused, &error.to_string(), reporter);
        }
        result
    }

    fn record(&self, context: &Context, outcome: Outcome, detail: &str, reporter: &dyn Reporter) {
        let (to, candidate) = aim(self.op, self.from.as_deref(), self.target.as_deref());
        let finished_at = jiff::Timestamp::now();
        let event = Event {
            release: self.target.clone(),
            from: self.from.clone(),
            to,
            candidate,
            outcome,
            reason: self.reason.clone(),
            detail: Some(detail.to_owned()),
            started_at: self.started_at,
            finished_at,
            duration_ms: finished_at
                .duration_since(self.started_at)
                .as_millis()
                .max(0) as u64,
            ..Event::one_off(
                self.op.as_str(),
                hoist_site::user_name(),
                hoist_site::host_name(),
            )
        };
        context.record(&Write::Event { event }, reporter);
    }
}
