//! `hoist parity [--against ROOT | --stage NAME]`: this host's runtime
//! fingerprint, or how it differs from another site's or between a
//! stage's hosts, each taken now.

use crate::cli::Global;
use crate::output::{Output, Render};
use hoist_parity::{Compared, Fingerprint};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist parity                                   this site's fingerprint: each probe's output, the database server's version\n  hoist parity --against /srv/shop-staging       how this host differs from the site where releases pass their tests\n  hoist parity --stage production                how the hosts of a stage differ from its first host\n\nThe probes are `[parity] probes` of each site's live release. Exits 1 when the fingerprints differ."
)]
pub struct Args {
    /// Compare with the site at ROOT on this host.
    #[arg(long, value_name = "ROOT", conflicts_with = "stage")]
    against: Option<PathBuf>,
    /// Compare the hosts of stage NAME (over ssh) with its first host.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
}

/// What `hoist parity` shows.
#[derive(Debug, Serialize)]
struct Parity {
    /// No differences.
    same: bool,
    /// Each fingerprint taken, labelled by site root or host name.
    fingerprints: Vec<Labelled>,
    /// The reference (first) against each of the others.
    comparisons: Vec<Compared>,
}

#[derive(Debug, Serialize)]
struct Labelled {
    of: String,
    #[serde(flatten)]
    fingerprint: Fingerprint,
}

impl Render for Parity {
    fn human(&self, out: &mut String) {
        if self.comparisons.is_empty() {
            for labelled in &self.fingerprints {
                print(out, labelled);
            }
            return;
        }
        for compared in &self.comparisons {
            if compared.is_same() {
                let _ = writeln!(out, "{} matches {}", compared.here, compared.reference);
                continue;
            }
            let _ = writeln!(
                out,
                "{} differs from {} in {}:",
                compared.here,
                compared.reference,
                compared.probes().join(", ")
            );
            for difference in &compared.differences {
                out.push_str(&difference.diff);
            }
        }
    }
}

fn print(out: &mut String, labelled: &Labelled) {
    let fingerprint = &labelled.fingerprint;
    let _ = writeln!(
        out,
        "{} on {}, release {}:",
        labelled.of,
        fingerprint.host,
        fingerprint.release.as_deref().unwrap_or("-")
    );
    for probe in &fingerprint.probes {
        let _ = writeln!(out, "$ {}", probe.command);
        for line in probe.output.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(database) = &fingerprint.database {
        let _ = writeln!(out, "database server: {database}");
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let fingerprints = match &args.stage {
        Some(stage) => of_stage(global, stage)?,
        None => {
            let root = crate::target::root(global, crate::target::config(global)?.as_ref())?;
            let mut taken = vec![of_site(&root)?];
            if let Some(against) = &args.against {
                // The other site is the reference: where releases pass their tests.
                taken.insert(0, of_site(against)?);
            }
            taken
        }
    };
    let comparisons: Vec<Compared> = match fingerprints.split_first() {
        Some((reference, others)) if args.against.is_some() || args.stage.is_some() => others
            .iter()
            .map(|other| {
                // Named by site or host as given, not only the host name two
                // sites on one machine share.
                let name = |labelled: &Labelled| {
                    format!(
                        "{} ({})",
                        labelled.of,
                        hoist_parity::describe(&labelled.fingerprint)
                    )
                };
                hoist_parity::compare_as(
                    (&reference.fingerprint, &name(reference)),
                    (&other.fingerprint, &name(other)),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    let same = comparisons.iter().all(Compared::is_same);
    let code = if same {
        crate::EXIT_OK
    } else {
        crate::EXIT_FAILURE
    };
    let shown = Parity {
        same,
        fingerprints,
        comparisons,
    };
    Output::new(global.json).emit_then(&shown, code)
}

/// The fingerprint of the site at `root`, for its live release, taken now.
fn of_site(root: &Path) -> anyhow::Result<Labelled> {
    Ok(Labelled {
        of: root.display().to_string(),
        fingerprint: fingerprint_at(root)?,
    })
}

/// The fingerprint of the live release of the site at `root` (what `hoist
/// fleet parity` answers, too).
pub(crate) fn fingerprint_at(root: &Path) -> anyhow::Result<Fingerprint> {
    let context = hoist_deploy::Context::open_read_only(root).map_err(|error| {
        anyhow::anyhow!(error).context(format!("cannot open site `{}`", root.display()))
    })?;
    let Some(live) = context.site.live()? else {
        return Err(crate::Failure::new(
            "nothing-live",
            format!(
                "no release is live at `{}`, so it has no runtime fingerprint",
                root.display()
            ),
        )
        .into());
    };
    Ok(hoist_deploy::fingerprint(&context, &live, None)?)
}

fn of_stage(global: &Global, name: &str) -> anyhow::Result<Vec<Labelled>> {
    let named = super::stage::named(global, name)?;
    let runtime = super::stage::runtime()?;
    let taken = runtime.block_on(hoist_fleet::parity_fingerprints(
        &named.stage,
        named.reach.clone(),
        &hoist_fleet::Quiet,
    ))?;
    Ok(taken
        .into_iter()
        .map(|(of, fingerprint)| Labelled { of, fingerprint })
        .collect())
}
