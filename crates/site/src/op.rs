//! Operations and their steps, as typed values.
//!
//! Every change of live state is an [`Op`] made of [`Step`]s, journaled
//! before each one runs. A step belongs to one [`Phase`]: *stage* steps
//! change nothing users get, *switch* steps change it, *after* steps finish
//! a switch that happened. What `hoist recover` does after a crash follows
//! from the step alone ([`Step::on_crash`]), so adding a step means saying
//! how to recover from it: the `match` will not compile otherwise.
//!
//! Both serialise in kebab-case, the names journals have always used, so a
//! journal written by an older hoist still reads.

use serde::{Deserialize, Serialize};

/// An operation that changes the site.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Op {
    /// Stage an artifact and switch to it.
    Deploy,
    /// Stage an artifact only: unpacked, verified, checked and tested, ready
    /// for a later switch (each host's first phase of `hoist deploy --stage`).
    Stage,
    /// Stage an artifact and start it beside the live release for test traffic.
    Hold,
    /// Switch to the held candidate.
    Promote,
    /// Switch back to an earlier release (by hand).
    Rollback,
    /// Switch back to an earlier release, decided by the agent's watch.
    AutoRollback,
    /// Remove old releases.
    Prune,
    /// Move the data pointer to a newer version.
    DataRoll,
    /// Move the data pointer back.
    DataRevert,
    /// Stop the held candidate.
    Abort,
    /// Start the live release afresh.
    Restart,
    /// Put a release's shipped files back from its artifact (`hoist repair`).
    Repair,
    /// Contract the open expansion (`hoist db complete`): the old shape goes.
    DbComplete,
    /// Remove the open expansion (`hoist db abort`): the new shape goes.
    DbAbort,
}

/// One step of an [`Op`], in the order they run (`Ord` follows it).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Step {
    /// Journaled, nothing done yet.
    Begin,
    /// Copying the artifact into `incoming/`.
    Copy,
    /// Checking the artifact (or the release on disk) against its manifest.
    Verify,
    /// Checking free space and inodes.
    Space,
    /// Unpacking into `releases/<id>.partial`.
    Unpack,
    /// Linking `shared/` paths.
    Shared,
    /// Running `[deploy] checks`.
    Checks,
    /// Running the test gate.
    Test,
    /// Sealing and renaming the release into place: staged.
    Ready,
    /// Running the target's `[hooks] pre_switch`; nothing live changed yet.
    PreSwitchHook,
    /// Holding new requests (the agent's pause) before the schema changes.
    Pause,
    /// Contracting the open expansion (`hoist db complete`'s work) before
    /// a deploy expands a new one: no release on its old side serves here.
    Complete,
    /// Running `phase = pre` migrations (expand).
    Migrate,
    /// Expanding the target's declarative migration (issue 17): new
    /// columns, triggers, backfill and the target's view schema, while the
    /// live release keeps its shape; or joining the open expansion's new side.
    Expand,
    /// Undoing migrations the target release predates (`rollback --with-db`).
    MigrateDown,
    /// Moving the data pointer to the version the target needs.
    Data,
    /// Starting the candidate beside the live release (`deploy --hold`).
    Hold,
    /// Moving `current` and the route.
    Switch,
    /// Running the external restart command.
    Restart,
    /// Waiting for the health check.
    Health,
    /// Walking the release's links (`[deploy.smoke] crawl`) without an
    /// agent: the restart put it live already, so dead links switch back.
    /// (With an agent the walk runs on the held candidate, during `hold`.)
    Walk,
    /// Running the operation's post hook (`post_switch`, `post_rollback`,
    /// `post_data_roll`) once the switch or roll happened.
    PostHook,
    /// Going back to the release live before, after a failed restart or health check.
    SwitchBack,
    /// Removing the open expansion (`rollback --with-db` before contract),
    /// once the route is back on the old release and the newer one stopped.
    AbortExpand,
    /// Recording the switch in the ledger.
    Record,
    /// Telling the app a new data version is live.
    Reload,
    /// Running `phase = post` migrations (contract), once the old release drained.
    MigratePost,
    /// Removing old releases.
    Prune,
    /// Restoring a release's files from its artifact, each written beside
    /// its place and renamed over it.
    Repair,
}

/// Which part of an operation a step is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Nothing users get has changed.
    Stage,
    /// What users get is changing.
    Switch,
    /// The switch happened; finishing it.
    After,
}

/// What `hoist recover` does with an operation killed during a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnCrash {
    /// Nothing live changed for good: remove what was made, keep what was live.
    Undo,
    /// Undo, unless the switch is already visible (`current` names the
    /// target): then finish it.
    UndoUnlessSwitched,
    /// The switch happened: run the remaining steps from this one.
    Resume,
}

impl Step {
    /// The phase this step belongs to.
    pub fn phase(self) -> Phase {
        use Step::*;
        match self {
            Begin | Copy | Verify | Space | Unpack | Shared | Checks | Test | Ready
            | PreSwitchHook => Phase::Stage,
            Pause | Complete | Migrate | Expand | MigrateDown | Data | Hold | Switch | Repair => {
                Phase::Switch
            }
            Restart | Health | Walk | PostHook | SwitchBack | AbortExpand | Record
            | MigratePost | Prune | Reload => Phase::After,
        }
    }

    /// How to recover from a crash during this step.
    pub fn on_crash(self) -> OnCrash {
        use Step::*;
        match self {
            // A pre-switch hook killed mid-way changed nothing hoist
            // knows of: the live release stays, the hook runs again next time.
            Begin | Copy | Verify | Space | Unpack | Shared | Checks | Test | Ready
            | PreSwitchHook => OnCrash::Undo,
            Pause | Migrate | Data | Hold | Switch => OnCrash::UndoUnlessSwitched,
            // The live release never stopped working (its shape stays until
            // contract, and a contract only runs with no old release
            // serving): recovery runs the same call again, which resumes
            // where the database says it stopped, then keeps the live release.
            Complete | Expand => OnCrash::UndoUnlessSwitched,
            // Once downs started, going forward to the rollback they serve
            // is the only state where code and schema agree again.
            MigrateDown => OnCrash::Resume,
            // Each file was replaced whole; running the repair again from
            // the kept artifact puts back the rest.
            Repair => OnCrash::Resume,
            // A post hook killed mid-way runs again (hooks are written to
            // run more than once), then the operation finishes. A walk
            // killed mid-way runs again from its start page: dead links
            // switch back, as they would have without the kill.
            // An abort killed mid-way runs again: it resumes from the
            // database's own record of where it got to.
            Restart | Health | Walk | PostHook | SwitchBack | AbortExpand | Record
            | MigratePost | Prune | Reload => OnCrash::Resume,
        }
    }

    /// The journal name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every step, in order (for tests that must cover each one).
    pub fn all() -> impl Iterator<Item = Step> {
        <Step as strum::IntoEnumIterator>::iter()
    }
}

impl Op {
    /// The journal and ledger name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every operation.
    pub fn all() -> impl Iterator<Item = Op> {
        <Op as strum::IntoEnumIterator>::iter()
    }

    /// True for operations that move code forward, whose new release the
    /// agent then watches (and may roll back on its own).
    pub fn is_forward(self) -> bool {
        matches!(self, Op::Deploy | Op::Promote)
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_ones_journals_on_disk_use() {
        let names: Vec<&str> = Step::all().map(Step::as_str).collect();
        for old in [
            "begin",
            "copy",
            "verify",
            "space",
            "unpack",
            "shared",
            "checks",
            "test",
            "ready",
            "migrate",
            "hold",
            "switch",
            "restart",
            "health",
            "switch-back",
            "record",
            "migrate-post",
            "prune",
        ] {
            assert!(names.contains(&old), "`{old}` no longer reads");
            let json = format!("\"{old}\"");
            let step: Step = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&step).unwrap(), json);
        }
        for old in ["deploy", "rollback", "prune", "promote", "hold"] {
            let op: Op = serde_json::from_str(&format!("\"{old}\"")).unwrap();
            assert_eq!(op.as_str(), old);
        }
    }

    #[test]
    fn stage_steps_are_undone_and_after_steps_resumed() {
        assert_eq!(Step::Unpack.on_crash(), OnCrash::Undo);
        assert_eq!(Step::Switch.on_crash(), OnCrash::UndoUnlessSwitched);
        assert_eq!(Step::MigratePost.on_crash(), OnCrash::Resume);
    }
}
