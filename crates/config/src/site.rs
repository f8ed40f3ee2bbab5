//! `<root>/site.toml`: the settings that belong to the host, kept with the site.
//!
//! A `hoist.toml` holds two kinds of settings. App settings (`[build]`,
//! checks, tests, shared paths, how `[process]` starts the app, `[data]`
//! requirements, the migrations directory) ship inside each release and
//! follow it. Host settings (which database, which env file, the proxy,
//! maintenance, the external restart and health check, how much to keep)
//! belong to the machine, so they are stored with the site and read from
//! there by every command on it, whatever `hoist.toml` a release ships or
//! the working directory holds. [`HOST_KEYS`] is the one place that says
//! which is which; `site.toml` accepts only those keys.
//!
//! ```
//! let site = hoist_config::SiteConfig::parse(
//!     "[database]\nurl = \"$DB_URL\"\n",
//!     "site.toml".as_ref(),
//! )
//! .unwrap();
//! let shipped = hoist_config::Config::parse(
//!     "[app]\nname = \"shop\"\n[database]\nurl = \"postgres://prod/shop\"\nmigrations = \"db\"\n",
//!     "hoist.toml".as_ref(),
//! )
//! .unwrap();
//! let database = shipped.with_site(&site).database.unwrap();
//! assert_eq!((database.url.as_str(), database.migrations.as_str()), ("$DB_URL", "db"));
//! ```

use crate::site_file::{defaults, SiteFile};
use crate::{Config, ConfigError, Database, Process};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file name of a site's host settings, in its root.
pub const SITE_FILE: &str = "site.toml";

/// The host settings: per section, the keys that belong to the host
/// (`*`: the whole section). `deploy.root` is not one: the site is where
/// its `site.toml` is.
pub const HOST_KEYS: &[(&str, &[&str])] = &[
    (
        "deploy",
        &[
            "restart",
            "health",
            "health_timeout",
            "health_release",
            "keep_releases",
            "max_release_size",
        ],
    ),
    ("process", &["env_file", "rollback_window", "max_warm"]),
    (
        "database",
        &[
            "url",
            "lock_timeout",
            "keep_backups",
            "ddl_lock_timeout",
            "ddl_retries",
            "backfill_batch",
            "backfill_pause",
        ],
    ),
    ("proxy", &["*"]),
    ("maintenance", &["*"]),
    // `[[notify]]`: endpoints and credentials are the host's.
    ("notify", &["*"]),
    ("metrics", &["*"]),
];

/// Where a [`Config`] was read from.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) path: PathBuf,
    text: Arc<str>,
}

impl Origin {
    pub(crate) fn new(path: &Path, text: &str) -> Origin {
        Origin {
            path: path.to_owned(),
            text: Arc::from(text),
        }
    }
}

/// A site's `site.toml`, parsed and checked.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    path: PathBuf,
    /// The keys as written, for [`SiteConfig::differing_keys`].
    table: toml::Table,
    file: SiteFile,
    /// The whole text, when its `[[notify]]` entries did not parse and
    /// were left out ([`SiteConfig::notify_error`] says why).
    broken_notify: Option<Arc<str>>,
}

impl SiteConfig {
    /// The site's settings in `root`, or `None` when it has no `site.toml` yet.
    pub fn load(root: &Path) -> Result<Option<SiteConfig>, ConfigError> {
        let path = root.join(SITE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => SiteConfig::parse(&text, &path).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Read {
                path,
                cause: source,
            }),
        }
    }

    /// Parses and checks `text`; `path` is only used in messages. An app
    /// key (`deploy.checks`) is refused by name like any unknown one.
    ///
    /// `[[notify]]` entries that do not parse (a typo such as `colour =`)
    /// are left out rather than failing the whole file: notifications are
    /// not needed to roll back, see or repair a site, so a typo in them
    /// must not block that. [`SiteConfig::notify_error`] gives the error
    /// for those that need them (a deploy refuses; others warn).
    pub fn parse(text: &str, path: &Path) -> Result<SiteConfig, ConfigError> {
        let error = match SiteConfig::parse_strict(text, path) {
            Ok(site) => return Ok(site),
            Err(error) => error,
        };
        let Some(rest) = without_notify(text) else {
            return Err(error);
        };
        let Ok(mut site) = SiteConfig::parse_strict(&rest, path) else {
            return Err(error);
        };
        site.broken_notify = Some(Arc::from(text));
        Ok(site)
    }

    /// Why this site's `[[notify]]` entries were left out, when they were:
    /// the error the whole file gives, with its line.
    pub fn notify_error(&self) -> Option<ConfigError> {
        let text = self.broken_notify.as_deref()?;
        SiteConfig::parse_strict(text, &self.path).err()
    }

    fn parse_strict(text: &str, path: &Path) -> Result<SiteConfig, ConfigError> {
        let syntax = |error: toml::de::Error| crate::schema::syntax_error(text, path, &error);
        let file: SiteFile = toml::from_str(text).map_err(syntax)?;
        let table: toml::Table = toml::from_str(text).map_err(syntax)?;
        let site = SiteConfig {
            path: path.to_owned(),
            table,
            file,
            broken_notify: None,
        };
        // The full schema's checks and limits, on the settings as they apply.
        let mut probe = Config::blank();
        probe.process = Some(Process::without_app());
        site.apply(&mut probe);
        probe.validate(path)?;
        Ok(site)
    }

    /// The file these settings came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `[[notify]]`: where messages go after deploys and rollbacks.
    pub fn notify(&self) -> &[crate::Notify] {
        &self.file.notify
    }

    /// `[process] env_file`, relative to the site root.
    pub fn env_file(&self) -> Option<&str> {
        self.file.process.as_ref()?.env_file.as_deref()
    }

    /// The site's `[database]`, with the default migrations directory
    /// (for `hoist db` before anything is deployed).
    pub fn database(&self) -> Option<Database> {
        let mut config = Config::blank();
        self.apply(&mut config);
        config.database
    }

    /// The text of a `site.toml` holding `config`'s host settings as
    /// written (variables unexpanded); `None` when `config` was not read
    /// from a file.
    pub fn render(config: &Config) -> Option<String> {
        let origin = config.origin.as_ref()?;
        let table = host_table(&origin.text);
        let body = toml::to_string(&table).unwrap_or_default();
        Some(format!(
            "# site.toml: this host's settings for the site in this directory, taken\n# from `{}`. Every command on the site reads them from here. Docs: docs/config.md\n\n{body}",
            std::path::absolute(&origin.path)
                .unwrap_or_else(|_| origin.path.clone())
                .display()
        ))
    }

    /// The host keys `config` sets to another value than this site's (or
    /// that this site leaves out), dotted (`database.url`); empty when
    /// `config` was not read from a file. A key `config` leaves out is no
    /// difference: it says nothing there, and the site's value holds (a
    /// `hoist.toml` without `[[notify]]` does not differ from a site that
    /// has them).
    pub fn differing_keys(&self, config: &Config) -> Vec<String> {
        let Some(origin) = &config.origin else {
            return Vec::new();
        };
        let given = host_table(&origin.text);
        let (mine, theirs) = (flatten(&self.table), flatten(&given));
        theirs
            .iter()
            .filter(|(key, value)| mine.get(*key) != Some(*value))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The host keys this site sets and `config` leaves out: what writing
    /// the site's settings anew from `config` would throw away.
    pub fn keys_only_here(&self, config: &Config) -> Vec<String> {
        let given = config
            .origin
            .as_ref()
            .map(|origin| host_table(&origin.text))
            .unwrap_or_default();
        let theirs = flatten(&given);
        flatten(&self.table)
            .into_keys()
            .filter(|key| !theirs.contains_key(key))
            .collect()
    }

    /// Replaces `config`'s host settings with this site's.
    fn apply(&self, config: &mut Config) {
        let (site, deploy) = (&self.file, &mut config.deploy);
        deploy.restart.clone_from(&site.deploy.restart);
        deploy.health.clone_from(&site.deploy.health);
        deploy.health_timeout = site.deploy.health_timeout;
        deploy.health_release = site.deploy.health_release;
        deploy.keep_releases = site.deploy.keep_releases;
        deploy.max_release_size = site.deploy.max_release_size;
        // The site's env file counts even when the release runs no `[process]`
        // (external mode): `$NAME` in host values is resolved from it.
        if config.process.is_none() && site.process.is_some() {
            config.process = Some(crate::Process::default());
        }
        if let Some(process) = &mut config.process {
            let policy = site.process.as_ref();
            process.env_file = policy.and_then(|p| p.env_file.clone());
            process.rollback_window =
                policy.map_or_else(defaults::rollback_window, |p| p.rollback_window);
            process.max_warm = policy.map_or_else(defaults::max_warm, |p| p.max_warm);
        }
        config.proxy = site.proxy.clone();
        config.maintenance = site.maintenance.clone();
        config.notify.clone_from(&site.notify);
        config.metrics = site.metrics.clone();
        // The migrations stay the release's: they ship with its code.
        config.database = site.database.as_ref().map(|database| Database {
            url: database.url.clone(),
            migrations: config
                .database
                .as_ref()
                .map_or_else(Database::default_migrations, |own| own.migrations.clone()),
            lock_timeout: database.lock_timeout,
            keep_backups: database.keep_backups,
            ddl_lock_timeout: database.ddl_lock_timeout,
            ddl_retries: database.ddl_retries,
            backfill_batch: database.backfill_batch,
            backfill_pause: database.backfill_pause,
        });
    }
}

impl SiteConfig {
    /// The site's host settings over every default: the config of a
    /// release that ships no `hoist.toml`, whose restart and health are
    /// still the host's to say.
    pub fn alone(&self) -> Config {
        Config::blank().with_site(self)
    }
}

impl Config {
    /// This config with its host settings replaced by the site's: what
    /// every command on a site with a `site.toml` runs with.
    pub fn with_site(&self, site: &SiteConfig) -> Config {
        let mut config = self.clone();
        site.apply(&mut config);
        config
    }

    /// [`Config::with_site`] for a config written for another site (its
    /// `deploy.root` names another directory): none of its host settings
    /// are used, compared or rendered into a `site.toml`.
    pub fn with_site_only(&self, site: &SiteConfig) -> Config {
        let mut config = self.with_site(site);
        config.origin = None;
        config
    }
}

/// The host sections and keys of a `hoist.toml`'s text.
fn host_table(text: &str) -> toml::Table {
    let all: toml::Table = toml::from_str(text).unwrap_or_default();
    let mut host = toml::Table::new();
    for (section, keys) in HOST_KEYS {
        // An array of tables (`[[notify]]`) is the host's whole.
        if let (Some(value @ toml::Value::Array(_)), true) = (all.get(*section), keys == &["*"]) {
            host.insert((*section).to_owned(), value.clone());
            continue;
        }
        let Some(toml::Value::Table(table)) = all.get(*section) else {
            continue;
        };
        let kept: toml::Table = table
            .iter()
            .filter(|(key, _)| keys == &["*"] || keys.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !kept.is_empty() {
            host.insert((*section).to_owned(), toml::Value::Table(kept));
        }
    }
    host
}

/// `text` without its `[[notify]]` entries, when it has any.
fn without_notify(text: &str) -> Option<String> {
    let mut table: toml::Table = toml::from_str(text).ok()?;
    table.remove("notify")?;
    toml::to_string(&table).ok()
}

/// `section.key` → value, one level deep (arrays and subtables are one value).
fn flatten(table: &toml::Table) -> BTreeMap<String, &toml::Value> {
    let mut flat = BTreeMap::new();
    for (section, value) in table {
        match value {
            toml::Value::Table(keys) => {
                for (key, value) in keys {
                    flat.insert(format!("{section}.{key}"), value);
                }
            }
            value => {
                flat.insert(section.clone(), value);
            }
        }
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[app]
name = "shop"
[deploy]
root = "/srv/shop"
checks = ["true"]
restart = "true"
health = "$HEALTH_URL"
keep_releases = 3
[process]
command = "./app"
env_file = "shared/env"
max_warm = 1
[database]
url = "${DB_URL}"
migrations = "db"
[proxy]
listen = "127.0.0.1:9000"
[[proxy.backend]]
url = "http://10.0.0.5:80"
[maintenance]
flag_file = "down"
"#;

    #[test]
    fn render_keeps_host_keys_only_and_parses_back() {
        let config = Config::parse(FULL, Path::new("hoist.toml")).unwrap();
        let text = SiteConfig::render(&config).unwrap();
        for app in [
            "checks =",
            "command =",
            "migrations =",
            "root =",
            "[app]",
            "10.0.0.5",
        ] {
            assert_eq!(text.contains(app), app == "10.0.0.5", "{app} in\n{text}");
        }
        let site = SiteConfig::parse(&text, Path::new("site.toml")).unwrap();
        assert!(site.differing_keys(&config).is_empty());
        assert_eq!(site.env_file(), Some("shared/env"));
        let applied = config.with_site(&site);
        assert_eq!(applied.database.unwrap().migrations, "db");
        assert_eq!(applied.process.unwrap().max_warm, 1);
    }

    #[test]
    fn every_host_key_is_kept_and_accepted() {
        let text = "[app]\nname = \"x\"\n[deploy]\nrestart = \"true\"\nhealth = \"http://h/\"\nhealth_timeout = \"5s\"\nhealth_release = true\nkeep_releases = 3\nmax_release_size = \"1 GiB\"\n[process]\ncommand = \"a\"\nenv_file = \"e\"\nrollback_window = \"1m\"\nmax_warm = 1\n[database]\nurl = \"sqlite://a.db\"\nlock_timeout = \"5s\"\nkeep_backups = 2\nddl_lock_timeout = \"1s\"\nddl_retries = 3\nbackfill_batch = 50\nbackfill_pause = \"1ms\"\n";
        let config = Config::parse(text, Path::new("hoist.toml")).unwrap();
        let rendered = SiteConfig::render(&config).unwrap();
        for (_, keys) in HOST_KEYS.iter().filter(|(_, keys)| keys != &["*"]) {
            for key in *keys {
                assert!(
                    rendered.contains(&format!("{key} =")),
                    "{key} in\n{rendered}"
                );
            }
        }
        let site = SiteConfig::parse(&rendered, Path::new("site.toml")).unwrap();
        let database = Config::blank().with_site(&site).database.unwrap();
        assert_eq!(
            (database.ddl_retries, database.backfill_batch),
            (3, 50),
            "the expand settings reach the config in use"
        );
    }

    #[test]
    fn an_app_key_is_refused_by_name() {
        let message = SiteConfig::parse("[deploy]\nchecks = []\n", Path::new("site.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("`checks`") && message.contains("line 2"),
            "{message}"
        );
    }

    #[test]
    fn notify_absent_from_hoist_toml_differs() {
        // Every command warned that a hoist.toml without `[[notify]]` differed
        // from a site.toml with them, and offered `init --site --force` to fix it.
        let site = SiteConfig::parse(
            "[database]\nurl = \"sqlite://a.db\"\n[[notify]]\nkind = \"webhook\"\nurl = \"http://h/\"\n",
            Path::new("site.toml"),
        )
        .unwrap();
        let config = Config::parse(
            "[app]\nname = \"shop\"\n[database]\nurl = \"sqlite://a.db\"\n",
            Path::new("hoist.toml"),
        )
        .unwrap();
        assert_eq!(site.differing_keys(&config), Vec::<String>::new());
        assert_eq!(site.keys_only_here(&config), ["notify"]);
    }

    #[test]
    fn notify_typo_blocked_the_whole_site_toml() {
        // `colour = "red"` in a `[[notify]]` entry made every command refuse, rollback included.
        let text = "[deploy]\nkeep_releases = 2\n[[notify]]\nkind = \"webhook\"\nurl = \"http://h/\"\ncolour = \"red\"\n";
        let site = SiteConfig::parse(text, Path::new("/srv/shop/site.toml")).unwrap();
        assert!(site.notify().is_empty());
        assert_eq!(site.alone().deploy.keep_releases, 2);
        let error = site.notify_error().unwrap();
        let hint = hoist_error::Described::hint(&error).unwrap();
        assert!(error.to_string().contains("`colour`"), "{error}");
        assert_eq!(hint, "edit `/srv/shop/site.toml`, line 6");
        // Anything else wrong still fails the file.
        assert!(
            SiteConfig::parse(&text.replace("= 2", "= \"two\""), Path::new("site.toml")).is_err()
        );
    }

    #[test]
    fn differing_keys_are_named_not_their_values() {
        let site = SiteConfig::parse(
            "[database]\nurl = \"postgres://h/staging\"\n",
            Path::new("s"),
        )
        .unwrap();
        let config = Config::parse(FULL, Path::new("hoist.toml")).unwrap();
        let keys = site.differing_keys(&config);
        assert!(keys.contains(&"database.url".to_owned()), "{keys:?}");
        assert!(keys.contains(&"deploy.restart".to_owned()), "{keys:?}");
        let applied = config.with_site(&site);
        assert_eq!(applied.deploy.restart, None);
        assert_eq!(applied.deploy.checks, ["true"]);
    }
}
