//! Environment parity across stages: every host's runtime fingerprint
//! taken now (`hoist parity --stage`), and for a `--from-stage` promotion
//! the fingerprint the source stage recorded when it deployed the release,
//! compared with what each target host recorded when it staged it.

use crate::{connect, FleetError, Host, Progress, Reach};
use hoist_parity::Fingerprint;
use std::sync::Arc;

/// What a promotion checks each host against.
#[derive(Debug, Clone)]
pub struct ParityGate {
    /// The stage where the release passed (`--from-stage`).
    pub from: String,
    /// The fingerprint a host of it recorded for the release; `None` when none did.
    pub reference: Option<Fingerprint>,
    /// `[parity] strict`: a host that differs fails the stage phase.
    pub strict: bool,
}

/// Each host of `stage` with its fingerprint; an error if any host cannot answer.
pub async fn fingerprints(
    stage: &hoist_config::Stage,
    reach: Arc<Reach>,
    progress: &dyn Progress,
) -> Result<Vec<(String, Fingerprint)>, FleetError> {
    let hosts = connect::connect_all(&stage.hosts, reach, stage.max_connections, progress).await?;
    let answers = futures_util::future::join_all(
        hosts
            .iter()
            .map(|host| host.run::<Fingerprint>(&["fleet", "parity"])),
    )
    .await;
    hosts
        .iter()
        .zip(answers)
        .map(|(host, answer)| answer.map(|fingerprint| (host.name.clone(), fingerprint)))
        .collect()
}

/// The first fingerprint of `release` a host of `stage` recorded.
pub async fn reference(
    stage: &hoist_config::Stage,
    reach: Arc<Reach>,
    release: &str,
    progress: &dyn Progress,
) -> Result<Option<Fingerprint>, FleetError> {
    let hosts = connect::connect_all(&stage.hosts, reach, stage.max_connections, progress).await?;
    for host in &hosts {
        if let Ok(recorded) = recorded(host, release).await {
            return Ok(Some(recorded));
        }
    }
    Ok(None)
}

async fn recorded(host: &Host, release: &str) -> Result<Fingerprint, FleetError> {
    host.run::<Fingerprint>(&["fleet", "parity", "--release", release])
        .await
}

/// After every host staged `release` (and so recorded its fingerprint):
/// the hosts that differ from `gate`'s reference, with why, when `strict`;
/// otherwise each difference is a warning and nothing is refused.
pub(crate) async fn check(
    gate: &ParityGate,
    hosts: &[Host],
    release: &str,
    progress: &dyn Progress,
) -> Vec<(String, String)> {
    let mut refused = Vec::new();
    let Some(reference) = &gate.reference else {
        let problem = format!(
            "no host of stage `{}` has a runtime fingerprint of `{release}` to compare with",
            gate.from
        );
        if gate.strict {
            refused.extend(hosts.iter().map(|host| {
                (
                    host.name.clone(),
                    format!("{problem}, and `[parity] strict = true` deploys only what matches it"),
                )
            }));
        } else {
            progress.warn(&problem);
        }
        return refused;
    };
    for host in hosts {
        let problem = match recorded(host, release).await {
            Ok(here) => {
                let compared = hoist_parity::compare(reference, &here);
                if compared.is_same() {
                    progress.host(
                        &host.name,
                        "parity",
                        &format!("matches stage `{}`", gate.from),
                    );
                    continue;
                }
                let diff: String = compared
                    .differences
                    .iter()
                    .map(|difference| difference.diff.as_str())
                    .collect();
                format!(
                    "its runtime differs from stage `{}`, where `{release}` passed, in {} (`hoist parity --stage` shows it):\n{diff}",
                    gate.from,
                    compared.probes().iter().map(|probe| format!("`{probe}`")).collect::<Vec<_>>().join(", ")
                )
            }
            Err(error) => format!("its runtime fingerprint could not be read: {error}"),
        };
        if gate.strict {
            refused.push((host.name.clone(), problem));
        } else {
            progress.warn(&format!("{}: {problem}", host.name));
        }
    }
    refused
}
