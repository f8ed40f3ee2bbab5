//! A site's own host settings over the config a command was given.
//!
//! Once a site has `site.toml`, a `hoist.toml` in the working directory or
//! given with `-c` supplies app settings only: its host sections are
//! replaced by the site's, and where they differ the operator is told
//! which keys, and where to change them, once.

use hoist_config::{Config, SiteConfig};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// `config` (read from `path`) with the host settings of the site at
/// `root`, when it has a `site.toml`.
pub fn overlay(root: &Path, config: Option<(Config, PathBuf)>) -> anyhow::Result<Option<Config>> {
    let Some((config, path)) = config else {
        return Ok(None);
    };
    let Some(site) = SiteConfig::load(root)? else {
        return Ok(Some(config));
    };
    let differing = site.differing_keys(&config);
    if !differing.is_empty() {
        let keys: Vec<String> = differing.iter().map(|key| format!("`{key}`")).collect();
        // `deploy.root` is relative to the config: name the file as a person finds it.
        let file = std::fs::canonicalize(site.path()).unwrap_or_else(|_| site.path().to_owned());
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: `{}` differs from this site's own settings in {}; the site's are used. Edit `{}` to change them, or replace it with `hoist init --site --force -c {}`",
            path.display(),
            keys.join(", "),
            file.display(),
            path.display(),
        );
    }
    Ok(Some(config.with_site(&site)))
}
