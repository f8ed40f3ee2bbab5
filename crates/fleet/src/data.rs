//! `hoist data load --stage NAME SRC`: one verified data version, under one
//! id, on every host of a stage. Nothing goes live: `data roll --stage`
//! ([`crate::data_roll`]) does that, on every host together.
//!
//! The source is read here once (every file hashed, [`hoist_data::scan`]),
//! then every host is asked which versions it has with that digest
//! (`hoist data list`). A host that has the version under the chosen id
//! gets nothing; one that has the same content under another id copies it
//! locally; only the rest are sent the version, packed once
//! ([`crate::data_wire`]). A load's own id holds the time it ran, so the
//! fleet picks the id: the one most hosts already have for this content,
//! else a new one, and every host loads under it (`hoist fleet
//! data-receive --id ID --digest D`), refusing content that does not
//! digest to D.
//!
//! A host that fails keeps nothing; the others keep the version (not
//! live), so running the same load again sends only to the failed hosts.

use crate::data_send::{pack, Receive};
use crate::each::{Failed, HostRun, Partial, StagePlan, StageRun};
use crate::{FleetError, Host, Progress};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What to load.
#[derive(Debug, Clone)]
pub struct DataLoad {
    /// A local file or directory.
    pub source: PathBuf,
    /// `--label`, on every host.
    pub label: Option<String>,
    /// `--check`, run on every host the version is loaded on.
    pub check: Option<String>,
}

/// How one host came to have the version.
#[derive(Debug, Clone, Serialize)]
pub struct Shipment {
    /// `had-it` (nothing sent), `copied` (its own copy of the same
    /// content, nothing sent) or `sent`.
    pub how: &'static str,
    /// Bytes written into the ssh channel for it.
    pub bytes_sent: u64,
}

/// One version as `hoist data list --json` shows it.
#[derive(Debug, Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    digest: Option<String>,
}

/// What each host is to do.
pub(crate) enum Need {
    HadIt,
    CopyOf(String),
    Send,
}

/// Loads `request` on every host of the stage.
pub async fn load(
    plan: &StagePlan,
    request: &DataLoad,
    progress: &dyn Progress,
) -> Result<StageRun<Shipment>, Failed<Shipment>> {
    let started = std::time::Instant::now();
    let source = request.source.clone();
    progress.note(&format!("reading `{}`", source.display()));
    let scanned = tokio::task::spawn_blocking(move || hoist_data::scan(&source))
        .await
        .expect("scanning does not panic")
        .map_err(|error| (error.into(), None))?;
    let digest = scanned.digest();
    let what = format!("data load {} to stage `{}`", &digest[..12], plan.stage_name);
    let opened = plan.open(&what, progress).await.map_err(|e| (e, None))?;
    let mut report = StageRun::new(plan, &opened.op, "data load".to_owned());
    let result = load_held(
        plan,
        request,
        &scanned,
        &opened.hosts,
        &mut report,
        progress,
    )
    .await;
    opened.close().await;
    report.settle(started, result)
}

async fn load_held(
    plan: &StagePlan,
    request: &DataLoad,
    scanned: &hoist_data::Scanned,
    hosts: &[Host],
    report: &mut StageRun<Shipment>,
    progress: &dyn Progress,
) -> Result<(), FleetError> {
    let digest = scanned.digest();
    let lists = plan
        .each(hosts, |_, host| host.run::<Vec<Listed>>(&["data", "list"]))
        .await;
    let mut have: Vec<Vec<String>> = Vec::new();
    for (host, list) in hosts.iter().zip(lists) {
        let list = list?;
        let same = list
            .into_iter()
            .filter(|v| v.digest.as_deref() == Some(&*digest));
        have.push(same.map(|v| v.id).collect());
        progress.host(&host.name, "ask", "which versions it has");
    }
    let id =
        common_id(&have).unwrap_or_else(|| hoist_data::new_id(&digest, jiff::Timestamp::now()));
    report.version = Some(id.clone());
    let needs: Vec<Need> = have
        .iter()
        .map(|ids| match ids.first() {
            _ if ids.contains(&id) => Need::HadIt,
            Some(other) => Need::CopyOf(other.clone()),
            None => Need::Send,
        })
        .collect();
    // Packed once, for every host that lacks the version.
    let packed = if needs.iter().any(|need| matches!(need, Need::Send)) {
        progress.note(&format!(
            "packing {} files ({} bytes) for the hosts that lack them",
            scanned.files(),
            scanned.bytes()
        ));
        Some(pack(scanned).await?)
    } else {
        None
    };
    let receive = Receive {
        id: &id,
        digest: &digest,
        request,
        packed: packed.as_ref().map(|file| file.path().to_owned()),
    };
    let results = plan
        .each(hosts, |index, host| {
            receive.on(host, &needs[index], progress)
        })
        .await;
    for (host, result) in hosts.iter().zip(results) {
        report.hosts.push(match result {
            Ok(shipment) => HostRun::done(host, shipment.how, shipment),
            Err(error) => {
                progress.host(&host.name, "failed", &error.to_string());
                HostRun::failed(host, &error)
            }
        });
    }
    let failures = report.failures();
    if failures.is_empty() {
        return Ok(());
    }
    Err(Partial::error(
        format!("data load `{id}`"),
        failures,
        "the other hosts have the version, not live; the same load again sends only to the failed hosts",
        &plan.stage_name,
    ))
}

/// The id most hosts already have for this content (the oldest on a tie).
fn common_id(have: &[Vec<String>]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in have.iter().flatten() {
        *counts.entry(id).or_default() += 1;
    }
    // Ascending ids: `max_by_key` keeps the last maximum, so walk them reversed.
    counts
        .into_iter()
        .rev()
        .max_by_key(|(_, count)| *count)
        .map(|(id, _)| id.to_owned())
}
