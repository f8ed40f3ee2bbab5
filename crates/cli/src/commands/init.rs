use crate::cli::Global;
use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist init                         write ./hoist.toml\n  hoist init --site --root /srv/shop -c prod.toml   store prod.toml's host settings as the site's own\n  hoist init --site --force --root /srv/shop        replace them with a commented template"
)]
pub struct Args {
    /// Where to write it.
    #[arg(default_value = hoist_config::FILE_NAME)]
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
    /// Write the site's own host settings, `<root>/site.toml`, from the
    /// host sections of `-c FILE` (or a commented template).
    #[arg(long)]
    site: bool,
    /// With `--site`: copy the host settings of a config whose
    /// `deploy.root` names another site (its database, its env file).
    #[arg(long, requires = "site")]
    other_site: bool,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    if args.site {
        return site(global, args.force, args.other_site);
    }
    if args.path.exists() && !args.force {
        let message = format!("`{}` already exists", args.path.display());
        return Err(crate::Failure::new("already-exists", message)
            .hint("hoist init --force (overwrites it)")
            .into());
    }
    std::fs::write(&args.path, hoist_config::TEMPLATE)
        .with_context(|| format!("cannot write `{}`", args.path.display()))?;
    eprintln!(
        "wrote `{}`; set `[app] name`, then run `hoist build`",
        args.path.display()
    );
    let result = serde_json::json!({ "wrote": args.path });
    crate::output::json_result(global.json, &result)?;
    Ok(crate::EXIT_OK)
}

/// `hoist init --site`: the site's `site.toml`, durably.
fn site(global: &Global, force: bool, other_site: bool) -> anyhow::Result<i32> {
    let config = crate::target::config(global)?;
    let root = crate::target::root(global, config.as_ref())?;
    // Copying another site's host settings here would point this site at its database.
    if let Some((config, from)) = &config {
        if let Some(other) = crate::site::other_site(&root, config, from).filter(|_| !other_site) {
            let message = format!(
                "`{}` is for another site, `{}` (its `deploy.root`), not `{}`; give this site's own config with `-c FILE`, or pass `--other-site` to copy that site's host settings anyway",
                from.display(),
                other.display(),
                root.display()
            );
            return Err(crate::Failure::new("other-site", message)
                .hint(format!(
                    "hoist init --site --root {} -c FILE",
                    root.display()
                ))
                .into());
        }
    }
    let path = root.join(hoist_config::SITE_FILE);
    if path.exists() && !force {
        let message = format!(
            "`{}` already exists; edit it, or replace it",
            path.display()
        );
        return Err(crate::Failure::new("already-exists", message)
            .hint(format!(
                "hoist init --site --force --root {}",
                root.display()
            ))
            .into());
    }
    let (text, from) = match &config {
        Some((config, from)) => (
            hoist_config::SiteConfig::render(config).unwrap_or_default(),
            format!("the host settings of `{}`", from.display()),
        ),
        None => (
            hoist_config::SITE_TEMPLATE.to_owned(),
            "a commented template".to_owned(),
        ),
    };
    let site = hoist_site::Site::create(&root)
        .with_context(|| format!("cannot use site `{}`", root.display()))?;
    hoist_site::durable::write_state(&path, text.as_bytes(), site.state_access())?;
    eprintln!(
        "wrote `{}` from {from}; every command on this site now takes its host settings from it",
        path.display()
    );
    let result = serde_json::json!({ "wrote": path });
    crate::output::json_result(global.json, &result)?;
    Ok(crate::EXIT_OK)
}
