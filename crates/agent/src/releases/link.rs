//! The agent as its own [`AgentLink`]: when the agent rolls back on its
//! own, `hoist_deploy` runs the operation (site lock, journal, ledger) and
//! reaches the release owner in-process instead of through the socket.

use super::Releases;
use hoist_deploy::{AgentLink, Reporter};
use hoist_site::Op;
use std::sync::Arc;

/// Switches through the release owner, from a blocking thread.
#[derive(Debug)]
pub(super) struct InProcess {
    pub(super) releases: Arc<Releases>,
    /// The agent's runtime; the caller runs on one of its blocking threads.
    pub(super) runtime: tokio::runtime::Handle,
}

impl AgentLink for InProcess {
    fn activate(&self, release: &str, op: Op) -> Result<String, String> {
        let activated = self
            .runtime
            .block_on(self.releases.switch(release, op.is_forward()))
            .map_err(|error| error.to_string())?;
        Ok(format!(
            "`{}` is serving again (instant: {})",
            activated.release, activated.instant
        ))
    }

    fn pause(&self, max: std::time::Duration) -> Result<(), String> {
        self.runtime.block_on(self.releases.hold_requests(max));
        self.releases.save();
        Ok(())
    }

    fn resume(&self) -> Result<(), String> {
        self.releases.router.resume();
        self.releases.save();
        Ok(())
    }

    fn hold(&self, release: &str) -> Result<String, String> {
        self.runtime
            .block_on(self.releases.hold(release, Vec::new()))
            .map_err(|error| error.to_string())?;
        Ok(format!("`{release}` runs beside the live release"))
    }

    fn restart(&self) -> Result<String, String> {
        self.runtime
            .block_on(self.releases.restart_live())
            .map_err(|error| error.to_string())
    }

    fn abort(&self) -> Result<Option<String>, String> {
        self.runtime
            .block_on(self.releases.abort())
            .map_err(|error| error.to_string())
    }

    fn data_rolled(&self, version: &str, _from: Option<&str>) -> Result<String, String> {
        // The agent's own rollback moves code only (its plan carries no data).
        Err(format!(
            "the agent's own rollback does not move data; `hoist data roll {version}` does"
        ))
    }

    fn retire(&self, release: &str) -> Result<bool, String> {
        Ok(self.runtime.block_on(self.releases.retire_warm(release)))
    }

    fn wait_drained(&self, release: &str) -> Result<(), String> {
        if self.runtime.block_on(self.releases.wait_drained(release)) {
            Ok(())
        } else {
            Err(format!(
                "`{release}` did not drain within the drain timeout"
            ))
        }
    }
}

/// Progress of an operation the agent runs, into its log.
#[derive(Debug, Clone, Copy)]
pub(super) struct Log;

impl Reporter for Log {
    fn step(&self, step: &str, detail: &str) {
        tracing::info!(step, detail, "automatic rollback");
    }

    fn warn(&self, message: &str) {
        tracing::warn!("{message}");
    }
}
