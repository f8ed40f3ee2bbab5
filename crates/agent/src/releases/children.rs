//! Every app process the agent runs, as `agent-state.json` records it, and
//! what a successor does with a dead agent's records.
//!
//! A process is tracked from the moment it is spawned, before its health
//! check, and saved at once: an agent killed while a candidate starts must
//! not leave it running unknown. It stays recorded until it is stopped (or
//! dropped, which kills it). Its role is read off where it is (live, warm,
//! held) when the state is saved, so moving it needs no bookkeeping.
//!
//! A restarted agent stops the recorded children that pass the identity
//! check, in the background; anything else is left alone. During an
//! upgrade the old agent's children stay recorded (they are still its
//! own) until they are gone.

use super::{Inner, Releases, Running};
use crate::state::{Child, Role};
use hoist_supervisor::{Orphan, Process};
use std::sync::{Arc, Weak};

/// A process this agent started.
#[derive(Debug)]
pub(super) struct Tracked {
    /// Weak: a process nobody holds is dropped, which kills it.
    process: Weak<Process>,
    /// Past its health check: not placed anywhere means it is on its way out.
    ready: bool,
}

/// What a restarted or upgrading agent does with its predecessor's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Predecessor {
    /// It died (`kill -9`, crash, reboot): stop what is left of its children.
    Dead,
    /// It still runs and serves (`hoist agent --upgrade`): its children are
    /// its own until it exits.
    Serving,
}

impl Inner {
    /// Starts tracking a just-spawned process.
    pub(super) fn track(&mut self, process: &Arc<Process>) {
        self.children.push(Tracked {
            process: Arc::downgrade(process),
            ready: false,
        });
    }

    /// Notes that `process` passed its health check.
    pub(super) fn mark_ready(&mut self, process: &Arc<Process>) {
        let target = Arc::downgrade(process);
        for tracked in &mut self.children {
            tracked.ready |= Weak::ptr_eq(&tracked.process, &target);
        }
    }

    /// The records to save: every tracked process not stopped, with its role.
    pub(super) fn records(&mut self) -> Vec<Child> {
        self.children
            .retain(|tracked| tracked.process.strong_count() > 0);
        let mut records: Vec<Child> = self
            .children
            .iter()
            .filter_map(|tracked| Some((tracked.process.upgrade()?, tracked.ready)))
            .filter(|(process, _)| !process.is_stopped())
            .map(|(process, ready)| Child {
                release: process.release().to_owned(),
                identity: process.identity().clone(),
                port: process.addr().port(),
                role: self.role(&process, ready),
            })
            .collect();
        records.extend(self.inherited.iter().cloned().map(|child| Child {
            role: Role::Inherited,
            ..child
        }));
        records
    }

    fn role(&self, process: &Arc<Process>, ready: bool) -> Role {
        let is = |running: &Running| Arc::ptr_eq(&running.process, process);
        if self.live.as_ref().is_some_and(is) {
            Role::Live
        } else if self.warm.values().any(|(running, _)| is(running)) {
            Role::Warm
        } else if self.held.as_ref().is_some_and(|(running, _)| is(running)) {
            Role::Held
        } else if ready {
            Role::Stopping
        } else {
            Role::Starting
        }
    }
}

impl Releases {
    /// Takes over the predecessor's recorded children: stops them in the
    /// background when it is dead, keeps them recorded while it serves.
    pub(crate) fn inherit(self: &Arc<Self>, recorded: Vec<Child>, predecessor: Predecessor) {
        self.inner().inherited = recorded.clone();
        if predecessor == Predecessor::Serving {
            return;
        }
        let stop_signal = super::spec::signal(&self.site_process.stop_signal);
        let stop_timeout = self.site_process.stop_timeout;
        for child in recorded {
            let releases = Arc::clone(self);
            self.spawn_to_end(async move {
                let outcome =
                    hoist_supervisor::stop_orphan(&child.identity, stop_signal, stop_timeout).await;
                if outcome == Orphan::Stopped {
                    tracing::warn!(release = %child.release, pid = child.identity.pid, port = child.port, "stopped an app process of the previous agent");
                }
                releases
                    .inner()
                    .inherited
                    .retain(|inherited| inherited.identity != child.identity);
                releases.save();
            });
        }
    }

    /// Forgets inherited records whose processes are all gone (an upgraded
    /// agent's predecessor stopped them when it exited).
    pub(super) fn forget_gone_inherited(&self) {
        let inherited = self.inner().inherited.clone();
        let gone: Vec<_> = inherited
            .into_iter()
            .filter(|child| !hoist_supervisor::is_running(&child.identity))
            .map(|child| child.identity)
            .collect();
        if !gone.is_empty() {
            self.inner()
                .inherited
                .retain(|child| !gone.contains(&child.identity));
        }
    }
}
