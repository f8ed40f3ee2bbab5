//! `hoist parity --stage NAME`: every host's runtime fingerprint, taken
//! there now by `hoist fleet parity`, in the stage's order; the caller
//! compares them (`hoist_parity::compare`).

use crate::{connect, FleetError, Progress, Reach};
use hoist_parity::Fingerprint;
use std::sync::Arc;

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
