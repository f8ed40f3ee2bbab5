//! Which way an open expansion ends, and everything that differs between
//! the two ways: the journal's operation and step, the engine's call, the
//! side whose processes must be gone first, and how messages say it.

use super::Side;
use hoist_db::expand::{ExpandEvent, ExpandStep, Expander, Finished};
use hoist_site::{Op, Step};

/// Which way an open expansion ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Contract (`hoist db complete`): the new shape stays.
    Complete,
    /// Abort (`hoist db abort`): the old shape stays.
    Abort,
}

impl End {
    /// The journaled operation of the command.
    pub(crate) fn op(self) -> Op {
        match self {
            End::Complete => Op::DbComplete,
            End::Abort => Op::DbAbort,
        }
    }

    /// The journal step during which the engine works.
    pub(crate) fn step(self) -> Step {
        match self {
            End::Complete => Step::Complete,
            End::Abort => Step::AbortExpand,
        }
    }

    /// The end a journaled `db-complete` or `db-abort` was making.
    pub(crate) fn of(op: Op) -> Option<End> {
        match op {
            Op::DbComplete => Some(End::Complete),
            Op::DbAbort => Some(End::Abort),
            _ => None,
        }
    }

    /// `Contracted::action` once done.
    pub(crate) fn done(self) -> &'static str {
        match self {
            End::Complete => "completed",
            End::Abort => "aborted",
        }
    }

    /// As progress says it is under way.
    pub(crate) fn doing(self) -> &'static str {
        match self {
            End::Complete => "contracting",
            End::Abort => "aborting",
        }
    }

    /// The command that makes this end (`db complete`), without `hoist`.
    pub(crate) fn command(self) -> &'static str {
        match self {
            End::Complete => "db complete",
            End::Abort => "db abort",
        }
    }

    /// The side whose shape this end drops: a release on it must not serve.
    pub(crate) fn dropped(self) -> Side {
        match self {
            End::Complete => Side::Old,
            End::Abort => Side::New,
        }
    }

    /// The engine's step while this end is under way: a crash there
    /// has no way back.
    pub(crate) fn engine_step(self) -> ExpandStep {
        match self {
            End::Complete => ExpandStep::Completing,
            End::Abort => ExpandStep::Aborting,
        }
    }

    /// The engine's work.
    pub(crate) fn run(
        self,
        expander: &mut Expander,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Finished, hoist_db::DbError> {
        match self {
            End::Complete => expander.complete(events),
            End::Abort => expander.abort(events),
        }
    }
}
