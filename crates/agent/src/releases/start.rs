//! Starting a release: its own `[process]`, its environment (the env
//! file, its database schema), its health check.

use super::{spec, Releases, Running};
use crate::AgentError;
use hoist_config::Process as ProcessConfig;
use hoist_proxy::Backend;
use hoist_supervisor::{Process, Spec};
use std::sync::Arc;

impl Releases {
    /// Starts `release` with its own `[process]` and waits until it is
    /// healthy; on failure stops it. `live` is named in the error.
    pub(super) async fn start_ready(
        &self,
        release: &str,
        live: Option<String>,
    ) -> Result<Running, AgentError> {
        if !self.runs_apps() {
            return Err(AgentError::NoProcessConfig);
        }
        self.check_release(release)?;
        let own = spec::for_release(&self.site, &self.site_process, release)?;
        let process = Arc::new(self.start(release, &own).await?);
        // Recorded before its health check: an agent killed from here on
        // leaves a record its successor stops it by.
        self.inner().track(&process);
        self.save();
        let ready = process
            .wait_ready(&own.health_path, own.healthy_after, own.health_timeout)
            .await;
        if let Err(problem) = ready {
            let log_tail = process.log_tail(20);
            process.stop().await;
            self.save();
            return Err(AgentError::NotReady {
                release: release.to_owned(),
                problem,
                live,
                log_tail,
            });
        }
        self.inner().mark_ready(&process);
        let backend = Arc::new(Backend::new(release, process.addr()));
        Ok(Running {
            process,
            backend,
            spec: Arc::new(own),
            watched_until: None,
            watched_from: None,
        })
    }

    /// A name from the admin API becomes a path: `../x` is no release.
    fn check_release(&self, release: &str) -> Result<(), AgentError> {
        let dir = self.site.release_dir(release);
        if hoist_store::ReleaseId::parse(release).is_err() || !dir.is_dir() {
            return Err(AgentError::UnknownRelease(release.to_owned()));
        }
        Ok(())
    }

    async fn start(&self, release: &str, own: &ProcessConfig) -> Result<Process, AgentError> {
        let dir = self.site.release_dir(release);
        let log = self
            .site
            .shared_dir()
            .join("log")
            .join("hoist")
            .join(format!("{release}.log"));
        let mut spec = Spec::new(release, &dir, &own.command, &log);
        spec.stop_signal = spec::signal(&own.stop_signal);
        spec.stop_timeout = own.stop_timeout;
        spec.env
            .push(("HOIST_ROOT".into(), self.site.root().display().to_string()));
        // Through the `data/current` link, so a roll is seen without a restart.
        let data = self.site.data_current_link().display().to_string();
        spec.env.push(("HOIST_DATA".into(), data));
        if let Some(file) = &own.env_file {
            spec.env
                .extend(read_env_file(&self.site.root().join(file))?);
        }
        // Its own database shape during an expansion: `HOIST_DB_SCHEMA`,
        // and `PGOPTIONS` with its view schema first in `search_path`.
        if let Some(schema) = hoist_site::db_schema(&self.site, release)? {
            schema.apply(&mut spec.env);
        }
        Process::start(spec).await.map_err(|source| AgentError::Io {
            action: "cannot start the app in",
            path: dir,
            cause: source,
        })
    }
}

/// The site's env file, as the config crate reads it (the same lines
/// `$NAME` in config values are looked up in). The file holds secrets: one
/// every local user can read is refused, naming the fix.
fn read_env_file(path: &std::path::Path) -> Result<Vec<(String, String)>, AgentError> {
    Ok(hoist_config::parse_env_file(&hoist_site::read_secret(
        path,
    )?))
}
