//! `[database]` and `[data]`: schema migrations and data versions.

use serde::Deserialize;
use std::time::Duration;

/// `[database]`: the app's database, migrated with each release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Database {
    /// `sqlite://shared/app.db` (relative to the site root) or `postgres://user@host/db`.
    #[serde(deserialize_with = "crate::vars::deserialize")]
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
    /// Expand and contract (PostgreSQL): each DDL waits at most this long
    /// for its table lock, then gives up and is tried again, so it never
    /// queues behind a long query with the site's requests queued behind it.
    #[serde(
        default = "Database::default_ddl_lock_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub ddl_lock_timeout: Duration,
    /// How many times a DDL that timed out is tried again.
    #[serde(default = "Database::default_ddl_retries")]
    pub ddl_retries: u32,
    /// Rows per backfill batch; each batch is one short transaction.
    #[serde(default = "Database::default_backfill_batch")]
    pub backfill_batch: u32,
    /// The pause between backfill batches, so the live release's writes go first.
    #[serde(
        default = "Database::default_backfill_pause",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub backfill_pause: Duration,
}

impl Database {
    pub(crate) fn default_ddl_lock_timeout() -> Duration {
        Duration::from_millis(500)
    }
    pub(crate) fn default_ddl_retries() -> u32 {
        20
    }
    pub(crate) fn default_backfill_batch() -> u32 {
        1000
    }
    pub(crate) fn default_backfill_pause() -> Duration {
        Duration::from_millis(10)
    }
    pub(crate) fn default_keep_backups() -> usize {
        10
    }
    pub(crate) fn default_migrations() -> String {
        "migrations".to_owned()
    }
    pub(crate) fn default_lock_timeout() -> Duration {
        Duration::from_secs(30)
    }
}

/// `[data]`: how the app learns that a new data version is live, and
/// which data version a release needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Data {
    /// `restart` (the default) for a blue/green restart of the live release,
    /// a signal (`HUP`, `USR1`...) sent to the app's processes after a roll,
    /// or `none`. A restart is always safe: the old process serves until the
    /// fresh one is healthy on the new data. A signal is an opt-in for apps
    /// that survive it; one that kills the app fails the data roll.
    #[serde(default = "Data::default_reload")]
    pub reload: String,
    /// How long the app must keep running after a reload signal for the
    /// roll to count (an app that dies of the signal does so within it).
    #[serde(
        default = "Data::default_reload_grace",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub reload_grace: Duration,
    /// Response header naming the live data version; `""` turns it off.
    #[serde(default = "Data::default_header")]
    pub header: String,
    /// How many versions `hoist data prune` keeps by default.
    #[serde(default = "Data::default_keep")]
    pub keep: usize,
    /// The data version this release needs: a label, or a prefix of a
    /// version id. A deploy refuses to switch onto other data.
    pub requires: Option<String>,
    /// A command run in the release with `$HOIST_DATA` naming the live
    /// version before the switch; non-zero refuses the data.
    pub requires_check: Option<String>,
}

impl Data {
    fn default_reload() -> String {
        "restart".to_owned()
    }
    fn default_reload_grace() -> Duration {
        Duration::from_secs(2)
    }
    fn default_header() -> String {
        "X-Hoist-Data".to_owned()
    }
    fn default_keep() -> usize {
        3
    }

    /// Checks `reload` and `requires`; returns the key and the problem.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        const RELOADS: [&str; 8] = [
            "HUP", "USR1", "USR2", "TERM", "INT", "QUIT", "restart", "none",
        ];
        if !RELOADS.contains(&self.reload.trim_start_matches("SIG")) {
            return Err((
                "data.reload",
                format!("`{}` is not one of {}", self.reload, RELOADS.join(", ")),
            ));
        }
        if self
            .requires
            .as_deref()
            .is_some_and(|r| r.trim().is_empty())
        {
            return Err((
                "data.requires",
                "is empty; name a data label or version id, or leave it out".into(),
            ));
        }
        if self
            .requires_check
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return Err((
                "data.requires_check",
                "is empty; give a command, or leave it out".into(),
            ));
        }
        Ok(())
    }
}

impl Default for Data {
    fn default() -> Self {
        Data {
            reload: Data::default_reload(),
            reload_grace: Data::default_reload_grace(),
            header: Data::default_header(),
            keep: Data::default_keep(),
            requires: None,
            requires_check: None,
        }
    }
}
