//! `hoist repair`: put a release's shipped files back from its artifact.
//!
//! ```text
//! repair:  repair (each damaged file written beside its place, renamed over it) ─ record
//! ```
//!
//! The way out of every refusal verification causes (a rollback to a
//! damaged release, a redeploy of it). The artifact is the one kept in
//! `incoming/` since the deploy, or one given with `--artifact` whose
//! manifest digest matches the release's (it is then kept there too). Works
//! on the live release: a reader sees each file old or new, never half.
//! Locked, journaled (a `kill -9` is finished by `hoist recover`, which
//! runs the repair again) and recorded in the ledger as `repair`.

use crate::activate::{event, journal_done};
use crate::attempt::Attempt;
use crate::stage::{copy_in, read_manifest};
use crate::verify::{summary, verify_release};
use crate::{Context, DeployError, Reporter};
use hoist_config::{Config, Deploy};
use hoist_ledger::{Outcome, Write};
use hoist_site::{Journal, Op, Step};
use hoist_store::{Artifact, Restored};
use serde::Serialize;
use std::path::PathBuf;

/// What to repair.
#[derive(Debug, Clone, Default)]
pub struct RepairRequest {
    /// The release (default: the live one).
    pub release: Option<String>,
    /// Its artifact, when `incoming/` has none.
    pub artifact: Option<PathBuf>,
    /// Why, for the ledger.
    pub reason: Option<String>,
}

/// What a repair did.
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    /// The release repaired.
    pub release: String,
    /// Whether it is the live one.
    pub live: bool,
    /// The artifact its files came from.
    pub artifact: PathBuf,
    /// What was replaced, written again and removed.
    #[serde(flatten)]
    pub restored: Restored,
    /// Whether it verifies now.
    pub clean: bool,
    /// Wall time.
    pub duration_ms: u64,
}

/// `hoist repair`, as its own locked, journaled operation.
pub fn repair(
    context: &Context,
    request: &RepairRequest,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<RepairReport, DeployError> {
    // A repair refused before its journal (no artifact, the wrong one) is
    // recorded too: the ledger shows every attempt.
    let mut attempt = Attempt::new(
        context,
        Op::Repair,
        request.release.clone(),
        request.reason.clone(),
    );
    let result = repair_release(context, request, config, reporter, &mut attempt);
    attempt.settle(context, result, reporter)
}

fn repair_release(
    context: &Context,
    request: &RepairRequest,
    config: Option<&Config>,
    reporter: &dyn Reporter,
    attempt: &mut Attempt,
) -> Result<RepairReport, DeployError> {
    let started = std::time::Instant::now();
    context.refuse_if_pending()?;
    let lock = context.lock("repair", reporter)?;
    context.refuse_if_pending()?;
    let live = context.site.live()?;
    attempt.started_from(live.as_deref());
    let id = match &request.release {
        Some(id) => id.clone(),
        None => live.clone().ok_or_else(|| DeployError::NothingLive {
            root: context.site.root().to_owned(),
        })?,
    };
    attempt.aimed_at(&id);
    let is_id = hoist_store::ReleaseId::parse(&id).is_ok();
    if !is_id || !context.site.release_dir(&id).is_dir() {
        return Err(DeployError::UnknownRelease(id));
    }
    let limit = config.map_or_else(
        || Deploy::default().max_release_size,
        |config| config.deploy.max_release_size,
    );
    let kept = context.site.kept_artifact(&id);
    // A given artifact wins over the kept one: it is how a damaged kept
    // copy is replaced.
    let path = match &request.artifact {
        Some(given) if !given.is_file() => {
            return Err(DeployError::ArtifactNotFound {
                id,
                path: given.clone(),
            })
        }
        Some(given) => given.clone(),
        None => kept.clone(),
    };
    if !path.is_file() {
        return Err(DeployError::NoArtifact {
            id,
            incoming: context.site.incoming_dir(),
        });
    }
    let unusable = |problem: hoist_store::StoreError| DeployError::ArtifactUnusable {
        id: id.clone(),
        path: path.clone(),
        problem: problem.to_string(),
    };
    let artifact = Artifact::open(&path, limit.as_u64()).map_err(unusable)?;
    matches_release(context, &id, &artifact)?;
    let same_file = |a: &PathBuf| std::fs::canonicalize(a).ok();
    if same_file(&path) != same_file(&kept) {
        // Kept from now on, so a repair `hoist recover` finishes has it too.
        copy_in(context, &path, &kept)?;
    }
    let artifact = artifact
        .linked_at(&kept)
        .map_or_else(|| Artifact::open(&kept, limit.as_u64()), Ok)?;
    let mut journal = Journal::begin(
        &context.site,
        Op::Repair,
        &id,
        live.clone(),
        request.reason.clone(),
    )?;
    attempt.journaled();
    let report = run(context, &mut journal, &artifact, reporter);
    let report = report.map(|(restored, clean)| RepairReport {
        live: live.as_deref() == Some(id.as_str()),
        release: id.clone(),
        artifact: path,
        restored,
        clean,
        duration_ms: started.elapsed().as_millis() as u64,
    });
    journal_done(context, &mut journal)?;
    lock.release()?;
    report
}

/// The repair step itself, also run by `hoist recover`: restores, checks
/// the result, records it. The caller holds the lock and the journal.
pub(crate) fn run(
    context: &Context,
    journal: &mut Journal,
    artifact: &Artifact,
    reporter: &dyn Reporter,
) -> Result<(Restored, bool), DeployError> {
    let id = journal.record().release.clone();
    journal.step(Step::Repair)?;
    reporter.step(
        "repair",
        &format!("restoring `{id}` from `{}`", artifact.path().display()),
    );
    let result = restore(context, &id, artifact);
    let (outcome, detail) = match &result {
        Ok((restored, true)) => (Outcome::Ok, describe(restored)),
        Ok((_, false)) => (
            Outcome::Failed,
            "still fails verification after the repair".to_owned(),
        ),
        Err(error) => (Outcome::Failed, error.to_string()),
    };
    let row = event(journal.record(), outcome, Some(detail));
    context.record(&Write::Event { event: row }, reporter);
    result
}

/// Restores twice at most: a manifest that was damaged is put back first,
/// and only then can the rest be compared with it.
fn restore(
    context: &Context,
    id: &str,
    artifact: &Artifact,
) -> Result<(Restored, bool), DeployError> {
    let dir = context.site.release_dir(id);
    let mut restored = Restored::default();
    for _ in 0..2 {
        let drift = verify_release(context, id)?;
        if drift.is_clean() {
            return Ok((restored, true));
        }
        let round = hoist_store::restore(artifact, &dir, &drift)?;
        for (all, more) in [
            (&mut restored.replaced, round.replaced),
            (&mut restored.missing, round.missing),
            (&mut restored.removed, round.removed),
            (&mut restored.removed_generated, round.removed_generated),
            (&mut restored.missing_generated, round.missing_generated),
        ] {
            for path in more {
                if !all.contains(&path) {
                    all.push(path);
                }
            }
        }
    }
    let drift = verify_release(context, id)?;
    if !drift.is_clean() {
        tracing::warn!(
            release = id,
            drift = summary(&drift),
            "still differs after repair"
        );
    }
    Ok((restored, drift.is_clean()))
}

/// Refuses an artifact that is not the one release `id` was built as.
fn matches_release(context: &Context, id: &str, artifact: &Artifact) -> Result<(), DeployError> {
    let ours = &artifact.manifest().digest;
    // A release whose own manifest is damaged is matched by id alone.
    let (same, theirs) = match read_manifest(&context.site.release_dir(id)) {
        Some(manifest) => (manifest.digest == *ours, manifest.digest),
        None => (
            artifact.manifest().release.to_string() == id,
            "unreadable".to_owned(),
        ),
    };
    if same {
        return Ok(());
    }
    let short = |digest: &str| digest[..12.min(digest.len())].to_owned();
    Err(DeployError::ArtifactMismatch {
        id: id.to_owned(),
        path: artifact.path().to_owned(),
        artifact: short(ours),
        release: short(&theirs),
    })
}

/// "replaced `app.py`; removed `cache/x`", for the ledger.
fn describe(restored: &Restored) -> String {
    let mut parts = Vec::new();
    for (label, paths) in [
        ("replaced", &restored.replaced),
        ("wrote missing", &restored.missing),
        ("removed", &restored.removed),
        ("removed changed generated", &restored.removed_generated),
        ("dropped missing generated", &restored.missing_generated),
    ] {
        if !paths.is_empty() {
            let names: Vec<String> = paths.iter().take(5).map(|p| format!("`{p}`")).collect();
            let more = paths.len().saturating_sub(5);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            parts.push(format!("{label} {}{more}", names.join(", ")));
        }
    }
    if parts.is_empty() {
        "nothing to repair: it matched its manifest".to_owned()
    } else {
        parts.join("; ")
    }
}

/// `hoist recover` after a repair was killed: runs it again from the kept
/// artifact (files already replaced are right, the rest is put back).
pub(crate) fn recover(
    context: &Context,
    journal: &mut Journal,
    config: Option<&Config>,
    reporter: &dyn Reporter,
) -> Result<&'static str, DeployError> {
    let id = journal.record().release.clone();
    let limit = config.map_or_else(
        || Deploy::default().max_release_size,
        |config| config.deploy.max_release_size,
    );
    let kept = context.site.kept_artifact(&id);
    let result = Artifact::open(&kept, limit.as_u64())
        .map_err(DeployError::from)
        .and_then(|artifact| run(context, journal, &artifact, reporter));
    if let Err(problem) = &result {
        reporter.warn(&format!(
            "could not finish the repair of `{id}` ({problem}); run `hoist repair {id}` again"
        ));
    }
    journal_done(context, journal)?;
    Ok(if result.is_ok() {
        "finished"
    } else {
        "cleaned-up"
    })
}
