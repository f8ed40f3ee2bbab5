//! A site's own host settings (`<root>/site.toml`) and the variables its
//! config values name.
//!
//! Every config a command on the site uses passes through
//! [`Context::config_for`], which lays the site's host settings over it:
//! a release's shipped `hoist.toml` or the working directory's cannot
//! point a command at another site's database. The first deploy stores
//! the settings it ran with ([`adopt`]); from then on `site.toml` is the
//! site's. Values such as `database.url = "$DB_URL"` are expanded only
//! where used ([`Context::resolve`]), from the site's env file and then
//! hoist's environment, so the secret is never written anywhere.

use crate::{Context, DeployError, Reporter};
use hoist_config::{Config, SiteConfig, SITE_FILE};
use std::path::Path;

impl Context {
    /// The site's `site.toml`, or `None` before its first deploy.
    pub fn site_settings(&self) -> Result<Option<SiteConfig>, DeployError> {
        Ok(SiteConfig::load(self.site.root())?)
    }

    /// `config` with this site's host settings, when it has a `site.toml`.
    pub fn with_site_settings(&self, config: Config) -> Result<Config, DeployError> {
        Ok(match self.site_settings()? {
            Some(site) => config.with_site(&site),
            None => config,
        })
    }

    /// `value` (of config key `key`) with `$NAME` and `${NAME}` expanded
    /// from the site's env file (`[process] env_file` of its `site.toml`),
    /// then hoist's environment.
    pub fn resolve(&self, key: &str, value: &str) -> Result<String, DeployError> {
        if !value.contains('$') {
            return Ok(value.to_owned());
        }
        let site = self.site_settings()?;
        let env_file = site.as_ref().and_then(SiteConfig::env_file);
        resolve(self.site.root(), env_file, key, value)
    }
}

impl Context {
    /// Where `database` is, its url expanded; a bad expanded url is named
    /// as written (`$DB_URL`), never by the secret it expanded to.
    pub fn database_target(
        &self,
        database: &hoist_config::Database,
    ) -> Result<hoist_db::Target, DeployError> {
        let url = self.resolve("database.url", &database.url)?;
        target(self.site.root(), &url, &database.url)
    }
}

/// The database at `url` (expanded from `written`), named as written when bad.
fn target(root: &Path, url: &str, written: &str) -> Result<hoist_db::Target, DeployError> {
    hoist_db::Target::parse(url, root).map_err(|error| match error {
        hoist_db::DbError::BadUrl { .. } if url != written => hoist_db::DbError::BadUrl {
            url: written.to_owned(),
        }
        .into(),
        error => error.into(),
    })
}

/// Expands and checks every host value `release` deploys with (the
/// `health` URL, the database url), at stage: a value that does not
/// expand or parse refuses the deploy before anything live changes,
/// rather than after the switch and the restart.
pub(crate) fn check_host_values(
    context: &Context,
    release: &str,
    given: Option<&Config>,
) -> Result<(), DeployError> {
    let Some(config) = context.config_for(release, given)? else {
        return Ok(());
    };
    // The env file of the settings in use: the first deploy writes `site.toml` only after this.
    let root = context.site.root();
    let env_file = config.process.as_ref().and_then(|p| p.env_file.as_deref());
    if let Some(written) = &config.deploy.health {
        let url = resolve(root, env_file, "deploy.health", written)?;
        if let Err(problem) = http_url(&url) {
            return Err(DeployError::BadHostValue {
                key: "deploy.health".to_owned(),
                written: written.clone(),
                problem,
                site_file: context.site.root().join(SITE_FILE),
            });
        }
    }
    if let Some(database) = &config.database {
        let url = resolve(root, env_file, "database.url", &database.url)?;
        target(root, &url, &database.url)?;
    }
    Ok(())
}

/// Why `url` is not an `http://host[:port]/path` URL the health check can GET.
fn http_url(url: &str) -> Result<(), String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|error| format!("it is not a URL ({error})"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none_or(str::is_empty) {
        return Err("it must be an http:// URL with a host".to_owned());
    }
    Ok(())
}

/// `value` (of config key `key`) with `$NAME` and `${NAME}` expanded from
/// `env_file` (relative to `root`), then hoist's environment; for callers
/// without a [`Context`] (the agent).
pub fn resolve(
    root: &Path,
    env_file: Option<&str>,
    key: &str,
    value: &str,
) -> Result<String, DeployError> {
    if !value.contains('$') {
        return Ok(value.to_owned());
    }
    let env_file = env_file.map(|file| root.join(file));
    let from_file = match &env_file {
        Some(path) => hoist_config::parse_env_file(&hoist_site::read_secret(path)?),
        None => Vec::new(),
    };
    let lookup = |name: &str| {
        from_file
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok())
    };
    hoist_config::expand(value, lookup).map_err(|missing| DeployError::MissingVariable {
        key: key.to_owned(),
        name: missing.name,
        looked_in: match env_file {
            Some(path) => format!("the env file `{}`", path.display()),
            None => format!(
                "an env file (`{}` sets no `[process] env_file`)",
                root.join(SITE_FILE).display()
            ),
        },
    })
}

/// On a site without `site.toml` (its first deploy, or one made before
/// sites kept their settings), stores the host settings of `config` (the
/// given one, else the one `release` ships) and says where they came from
/// and where they now live. Written before the switch, so the switch (and
/// an agent starting the release) uses them; removed again unless the
/// deploy succeeds ([`Adopted::keep`]): a failed first deploy leaves no
/// settings behind that the next one would take over unasked.
pub(crate) fn adopt(
    context: &Context,
    release: &str,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<Adopted, DeployError> {
    let path = context.site.root().join(SITE_FILE);
    if path.exists() {
        return Ok(Adopted(None));
    }
    let Some(config) = context.config_for(release, config)? else {
        return Ok(Adopted(None));
    };
    let Some(text) = SiteConfig::render(&config) else {
        return Ok(Adopted(None));
    };
    // The settings may name a database with its password: not world-readable.
    hoist_site::durable::write_state(&path, text.as_bytes(), context.site.state_access())?;
    let from = config
        .path()
        .map_or_else(String::new, |from| format!(" from `{}`", from.display()));
    reporter.step(
        "site",
        &format!(
            "host settings{from} are now kept in `{}`; edit it to change them",
            path.display()
        ),
    );
    Ok(Adopted(Some(path)))
}

/// The `site.toml` a deploy wrote, removed when dropped before [`Adopted::keep`].
#[derive(Debug)]
#[must_use]
pub(crate) struct Adopted(Option<std::path::PathBuf>);

impl Adopted {
    /// The deploy succeeded: the settings stay.
    pub(crate) fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Adopted {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = hoist_site::durable::remove_file(&path);
        }
    }
}
