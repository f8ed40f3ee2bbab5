//! A site's own host settings over the config a command was given.
//!
//! Every command on a site loads and checks its `site.toml` first, so a
//! broken one stops it with the parse error instead of falling back to
//! defaults. Once a site has `site.toml`, a `hoist.toml` in the working
//! directory or given with `-c` supplies app settings only: its host
//! sections are replaced by the site's, and where they differ the operator
//! is told which keys, and where to change them, once. A `hoist.toml`
//! whose `deploy.root` names another site is that site's: its host
//! settings are never used here, nor offered to be copied here.

use hoist_config::{Config, SiteConfig};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

/// The host settings' sections a running agent read when it started
/// (`[process]`'s `rollback_window`, `max_warm` and `env_file`, the proxy,
/// maintenance and metrics listeners) and does not read again.
const AGENT_READS: [&str; 4] = ["process.", "proxy.", "maintenance.", "metrics."];

/// What the command does with the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A deploy, which stores the host settings of a site without `site.toml`.
    Deploy,
    /// Any other command.
    Command,
}

/// `config` (read from `path`) with the host settings of the site at
/// `root`, when it has a `site.toml`. `None`: the release's shipped config.
pub fn overlay(
    root: &Path,
    config: Option<(Config, PathBuf)>,
    using: Use,
) -> anyhow::Result<Option<Config>> {
    let site = SiteConfig::load(root)?;
    if let Some(error) = site.as_ref().and_then(SiteConfig::notify_error) {
        // A deploy should be told of; anything else (a rollback above all)
        // goes on without notifications rather than be blocked by a typo.
        if using == Use::Deploy {
            return Err(error.into());
        }
        warn(&format!(
            "{error}; its `[[notify]]` entries are skipped, so this command sends no notification (`hoist deploy` refuses until it is fixed)"
        ));
    }
    let other = config
        .as_ref()
        .and_then(|(config, path)| other_site(root, config, path));
    let Some((config, path)) = config else {
        if site.is_none() && using == Use::Command {
            unpinned(root, "the live release's shipped `hoist.toml`", "");
        }
        return Ok(None);
    };
    let site = match (site, other) {
        (Some(site), Some(other)) => {
            warn(&format!(
                "`{}` is for another site, `{}` (its `deploy.root`); its host settings are ignored here: `{}` uses its own, in `{}`",
                path.display(),
                other.display(),
                root.display(),
                site.path().display()
            ));
            return Ok(Some(config.with_site_only(&site)));
        }
        (None, Some(other)) if using == Use::Deploy => {
            let message = format!(
                "`{}` is for another site, `{}` (its `deploy.root`), and `{}` has no `site.toml` of its own to take its host settings from; write it first (FILE: this site's own config), then deploy again",
                path.display(),
                other.display(),
                root.display(),
            );
            return Err(crate::Failure::new("other-site", message)
                .hint(format!(
                    "hoist init --site --root {} -c FILE",
                    root.display()
                ))
                .into());
        }
        (None, Some(other)) => {
            let ignored = format!(
                " (`{}` is for another site, `{}`, and is ignored)",
                path.display(),
                other.display()
            );
            unpinned(root, "the live release's shipped `hoist.toml`", &ignored);
            return Ok(None);
        }
        (None, None) => {
            if using == Use::Command {
                unpinned(root, &format!("`{}`", path.display()), "");
            }
            return Ok(Some(config));
        }
        (Some(site), None) => site,
    };
    let differing = site.differing_keys(&config);
    if !differing.is_empty() {
        let keys: Vec<String> = differing.iter().map(|key| format!("`{key}`")).collect();
        // `deploy.root` is relative to the config: name the file as a person finds it.
        let file = std::fs::canonicalize(site.path()).unwrap_or_else(|_| site.path().to_owned());
        // Writing the file anew from `path` is offered only when it loses
        // none of the site's settings (`[[notify]]` entries it lacks).
        let replace = if site.keys_only_here(&config).is_empty() {
            format!(
                ", or replace it with `hoist init --site --force --root {} -c {}`",
                file.parent().unwrap_or(root).display(),
                path.display(),
            )
        } else {
            String::new()
        };
        // The agent reads these once, at its start: an edit of
        // `site.toml` alone leaves a running agent on the old values.
        let agent: Vec<&String> = differing
            .iter()
            .filter(|key| AGENT_READS.iter().any(|section| key.starts_with(section)))
            .collect();
        let restart = match agent.is_empty() {
            true => String::new(),
            false => format!(
                ". A running `hoist agent` reads {} only when it starts: after the edit, `systemctl reload <its unit>` (or `kill -USR2 <agent pid>`) upgrades it in place onto the new values",
                agent
                    .iter()
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        warn(&format!(
            "`{}` differs from this site's own settings in {}; the site's are used. Edit `{}` to change them{replace}{restart}",
            path.display(),
            keys.join(", "),
            file.display(),
        ));
    }
    Ok(Some(config.with_site(&site)))
}

/// The site `config` (read from `path`) is for, by its `deploy.root`, when
/// that is another directory than `root`.
pub fn other_site(root: &Path, config: &Config, path: &Path) -> Option<PathBuf> {
    let own = config.deploy.root.as_ref()?;
    let base = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let own = normal(&base.join(own));
    (own != normal(root)).then_some(own)
}

/// `path` absolute, with `..` and links resolved as far as it exists.
fn normal(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            component => out.push(component),
        }
    }
    out
}

/// Says, for a site deployed by a hoist that did not keep its settings,
/// where they come from instead and how to pin them.
fn unpinned(root: &Path, from: &str, note: &str) {
    let deployed = std::fs::symlink_metadata(root.join("current")).is_ok();
    if !deployed {
        return;
    }
    warn(&format!(
        "`{}` has no `site.toml` (it was deployed by an older hoist), so its host settings (database, env file, restart, health) are taken from {from}{note}; pin this site's own with `hoist init --site --root {} -c FILE`",
        root.display(),
        root.display()
    ));
}

fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
}
