//! The typed shape of `site.toml`: host keys only, each optional, a left
//! out key meaning what it means in `hoist.toml`. The split itself is
//! [`crate::HOST_KEYS`]; these types mirror it (a test checks they agree).

use crate::{Database, Deploy, MaintenanceConfig, Metrics, Process, Proxy};
use bytesize::ByteSize;
use serde::Deserialize;
use std::time::Duration;

/// What `hoist init --site` writes when it is given no config.
pub const SITE_TEMPLATE: &str = r#"# site.toml: this host's settings for the site in this directory.
# Every command on the site reads them from here, whatever hoist.toml a
# release ships. Values may name variables, `$NAME` or `${NAME}`, looked up
# in `[process] env_file`, then hoist's environment. Docs: docs/config.md

# [database]
# url = "$DATABASE_URL"
# lock_timeout = "30s"
# keep_backups = 10
# ddl_lock_timeout = "500ms"   # expand/contract: each DDL's lock wait, then a retry
# ddl_retries = 20
# backfill_batch = 1000        # rows per backfill transaction
# backfill_pause = "10ms"      # between backfill batches

# [process]
# env_file = "shared/env"      # KEY=value lines, chmod 600
# rollback_window = "5m"
# max_warm = 2

# [deploy]
# restart = "kill -USR2 $(cat shared/hypnotoad.pid)"
# health = "http://127.0.0.1:8080/healthz"
# health_timeout = "30s"
# health_release = true        # the answer must carry X-Hoist-Release: <new release>
# keep_releases = 5
# max_release_size = "10 GiB"

# [proxy]
# listen = "127.0.0.1:8080"

# [maintenance]
# flag_file = "maintenance"

# [[notify]]                   # after deploy, rollback, auto_rollback, failure
# kind = "webhook"
# url = "https://chat.example.org/hooks/XXXX"
# format = "slack"             # or "json"
# [metrics]
# listen = "127.0.0.1:9100"    # GET /metrics for Prometheus; off when left out
"#;

/// The typed shape of `site.toml`: host keys only, all optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteFile {
    #[serde(default)]
    pub(crate) deploy: SiteDeploy,
    pub(crate) process: Option<SiteProcess>,
    #[serde(default)]
    pub(crate) proxy: Proxy,
    #[serde(default)]
    pub(crate) maintenance: MaintenanceConfig,
    #[serde(default)]
    pub(crate) metrics: Metrics,
    pub(crate) database: Option<SiteDatabase>,
    #[serde(default)]
    pub(crate) notify: Vec<crate::Notify>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteDeploy {
    pub(crate) restart: Option<String>,
    #[serde(default, deserialize_with = "crate::vars::deserialize_opt")]
    pub(crate) health: Option<String>,
    #[serde(
        default = "defaults::health_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub(crate) health_timeout: Duration,
    /// Goes with `health`: the answer must name the new release.
    #[serde(default)]
    pub(crate) health_release: bool,
    #[serde(default = "defaults::keep_releases")]
    pub(crate) keep_releases: usize,
    #[serde(default = "defaults::max_release_size")]
    pub(crate) max_release_size: ByteSize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteProcess {
    pub(crate) env_file: Option<String>,
    #[serde(
        default = "defaults::rollback_window",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub(crate) rollback_window: Duration,
    #[serde(
        default = "defaults::max_warm",
        deserialize_with = "Process::deserialize_max_warm"
    )]
    pub(crate) max_warm: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteDatabase {
    #[serde(deserialize_with = "crate::vars::deserialize")]
    pub(crate) url: String,
    #[serde(
        default = "Database::default_lock_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub(crate) lock_timeout: Duration,
    #[serde(default = "Database::default_keep_backups")]
    pub(crate) keep_backups: usize,
    #[serde(
        default = "Database::default_ddl_lock_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub(crate) ddl_lock_timeout: Duration,
    #[serde(default = "Database::default_ddl_retries")]
    pub(crate) ddl_retries: u32,
    #[serde(default = "Database::default_backfill_batch")]
    pub(crate) backfill_batch: u32,
    #[serde(
        default = "Database::default_backfill_pause",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub(crate) backfill_pause: Duration,
}

/// The defaults of the full schema, so a key left out of `site.toml` means
/// what it means in `hoist.toml`.
pub(crate) mod defaults {
    use super::*;
    pub(crate) fn health_timeout() -> Duration {
        Deploy::default().health_timeout
    }
    pub(crate) fn keep_releases() -> usize {
        Deploy::default().keep_releases
    }
    pub(crate) fn max_release_size() -> ByteSize {
        Deploy::default().max_release_size
    }
    pub(crate) fn rollback_window() -> Duration {
        Process::without_app().rollback_window
    }
    pub(crate) fn max_warm() -> usize {
        Process::without_app().max_warm
    }
}

impl Default for SiteDeploy {
    fn default() -> Self {
        SiteDeploy {
            restart: None,
            health: None,
            health_timeout: defaults::health_timeout(),
            health_release: false,
            keep_releases: defaults::keep_releases(),
            max_release_size: defaults::max_release_size(),
        }
    }
}
