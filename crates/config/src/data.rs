//! `[database]` and `[data]`: schema migrations and data versions.

use serde::Deserialize;
use std::time::Duration;

/// `[database]`: the app's database, migrated with each release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Database {
    /// `sqlite://shared/app.db` (relative to the site root) or `postgres://user@host/db`.
    pub url: String,
    /// The migrations directory inside the release.
    #[serde(default = "Database::default_migrations")]
    pub migrations: String,
    /// How long a migrator waits for another one before giving up.
    #[serde(
        default = "Database::default_lock_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub lock_timeout: Duration,
    /// How many backups in `data/backups/` to keep; older ones are removed after each new one.
    #[serde(default = "Database::default_keep_backups")]
    pub keep_backups: usize,
}

impl Database {
    fn default_keep_backups() -> usize {
        10
    }
    fn default_migrations() -> String {
        "migrations".to_owned()
    }
    fn default_lock_timeout() -> Duration {
        Duration::from_secs(30)
    }
}

/// `[data]`: how the app learns that a new data version is live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Data {
    /// `HUP` (or another signal) sent to the app's processes after a roll,
    /// `restart` for a blue/green restart, or `none`.
    #[serde(default = "Data::default_reload")]
    pub reload: String,
    /// Response header naming the live data version; `""` turns it off.
    #[serde(default = "Data::default_header")]
    pub header: String,
    /// How many versions `hoist data prune` keeps by default.
    #[serde(default = "Data::default_keep")]
    pub keep: usize,
}

impl Data {
    fn default_reload() -> String {
        "HUP".to_owned()
    }
    fn default_header() -> String {
        "X-Hoist-Data".to_owned()
    }
    fn default_keep() -> usize {
        3
    }

    /// Checks `reload`; returns the problem.
    pub(crate) fn check(&self) -> Result<(), String> {
        const RELOADS: [&str; 8] = [
            "HUP", "USR1", "USR2", "TERM", "INT", "QUIT", "restart", "none",
        ];
        if !RELOADS.contains(&self.reload.trim_start_matches("SIG")) {
            return Err(format!(
                "`{}` is not one of {}",
                self.reload,
                RELOADS.join(", ")
            ));
        }
        Ok(())
    }
}

impl Default for Data {
    fn default() -> Self {
        Data {
            reload: Data::default_reload(),
            header: Data::default_header(),
            keep: Data::default_keep(),
        }
    }
}
