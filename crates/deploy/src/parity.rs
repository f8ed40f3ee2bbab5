//! Environment parity at deploy (`[parity]`): every deploy records this
//! host's runtime fingerprint for the release in
//! `<root>/parity/<release>.json`, then compares it with the record of the
//! site where the same release passed its tests (`[parity] against`):
//! a difference warns, or with `strict = true` refuses before the switch.
//!
//! The reference is a record, not a fresh probe of the other site: what
//! counts is the runtime the release was tested on, at the time it was.
//! `hoist parity --against` compares the two sites as they are now.

use crate::{Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_parity::{Fingerprint, Probing};
use std::path::{Path, PathBuf};

/// This site's runtime fingerprint, taken now, with the probes and
/// database of `release`'s config (`given`, else the one it ships, with
/// the site's `site.toml` over it).
pub fn fingerprint(
    context: &Context,
    release: &str,
    given: Option<&Config>,
) -> Result<Fingerprint, DeployError> {
    let config = context.config_for(release, given)?;
    Ok(take(context, release, config.as_ref()))
}

fn take(context: &Context, release: &str, config: Option<&Config>) -> Fingerprint {
    let root = context.site.root();
    let dir = context.site.release_dir(release);
    let parity = config.and_then(|config| config.parity.as_ref());
    let mut env = vec![
        ("HOIST_ROOT".to_owned(), root.to_string_lossy().into_owned()),
        ("HOIST_RELEASE".to_owned(), release.to_owned()),
        (
            "HOIST_RELEASE_DIR".to_owned(),
            dir.to_string_lossy().into_owned(),
        ),
    ];
    let env_file = config
        .and_then(|config| config.process.as_ref())
        .and_then(|process| process.env_file.as_deref());
    if let Some(file) = env_file {
        // A probe without the site's environment may find another tool.
        match hoist_site::read_secret(&root.join(file)) {
            Ok(text) => env.extend(hoist_config::parse_env_file(&text)),
            Err(error) => {
                tracing::warn!(%error, "the probes run without the site's env file");
            }
        }
    }
    let probing = Probing {
        commands: parity
            .map(|parity| parity.probes.clone())
            .unwrap_or_default(),
        env,
        dir: if dir.is_dir() { dir } else { root.to_owned() },
        timeout: parity.map_or(std::time::Duration::from_secs(10), |parity| parity.timeout),
    };
    let database = config
        .and_then(|config| config.database.as_ref())
        .map(|database| server_version(context, &database.url));
    Fingerprint::take(&probing, Some(release), database)
}

/// The database server's version, as it says itself; or why not.
fn server_version(context: &Context, url: &str) -> String {
    let read = || -> Result<String, String> {
        let url = context
            .resolve("database.url", url)
            .map_err(|error| error.to_string())?;
        let target = hoist_db::Target::parse(&url, context.site.root())
            .map_err(|error| error.to_string())?;
        let mut driver = target.open().map_err(|error| error.to_string())?;
        driver.server_version().map_err(|error| error.to_string())
    };
    read().unwrap_or_else(|problem| format!("unreadable: {problem}"))
}

/// At deploy, before the switch: records the fingerprint, and compares it
/// with `[parity] against`'s record of the same release.
pub(crate) fn check(
    context: &Context,
    release: &str,
    given: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let Some(config) = context.config_for(release, given)? else {
        return Ok(());
    };
    let Some(parity) = config.parity.clone() else {
        return Ok(());
    };
    let here = take(context, release, Some(&config));
    let root = context.site.root();
    let file = hoist_parity::save(root, release, &here, context.site.state_access())?;
    reporter.step(
        "parity",
        &format!(
            "runtime fingerprint recorded in `{}` ({} probe(s){})",
            file.display(),
            here.probes.len(),
            here.database
                .as_deref()
                .map(|database| format!(", database: {database}"))
                .unwrap_or_default()
        ),
    );
    let Some(against) = parity.against.filter(|against| !same_dir(against, root)) else {
        return Ok(());
    };
    let Some(reference) = hoist_parity::load(&against, release)? else {
        if parity.strict {
            return Err(DeployError::ParityUnchecked {
                release: release.to_owned(),
                against,
            });
        }
        reporter.warn(&format!(
            "`{}` has no runtime fingerprint of `{release}`, so this host's could not be compared (deploy it there first)",
            against.display()
        ));
        return Ok(());
    };
    let compared = hoist_parity::compare(&reference, &here);
    if compared.is_same() {
        reporter.step(
            "parity",
            &format!("the runtime matches `{}`", against.display()),
        );
        return Ok(());
    }
    let diff: String = compared
        .differences
        .iter()
        .map(|difference| difference.diff.as_str())
        .collect();
    if parity.strict {
        return Err(DeployError::ParityMismatch {
            release: release.to_owned(),
            against,
            probes: compared.probes(),
            diff,
        });
    }
    reporter.warn(&format!(
        "the runtime here differs from `{}`, where `{release}` passed its tests, in {} (`[parity] strict = true` refuses such a deploy):\n{diff}",
        against.display(),
        compared
            .probes()
            .iter()
            .map(|probe| format!("`{probe}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical =
        |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
    canonical(a) == canonical(b)
}
