//! Read-side answers: what is live, what came before, what is on disk.

use crate::{Context, DeployError};
use hoist_ledger::{Event, ReleaseState};
use hoist_site::{DeployLock, Journal, JournalRecord, LockHolder};
use serde::Serialize;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

/// `hoist status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The site root.
    pub root: String,
    /// The live release.
    pub live: Option<String>,
    /// Where a plain `hoist rollback` would go.
    pub previous: Option<String>,
    /// When the live release was made live.
    pub deployed_at: Option<jiff::Timestamp>,
    /// Who made it live.
    pub deployed_by: Option<String>,
    /// An interrupted operation awaiting `hoist recover`.
    pub pending: Option<JournalRecord>,
    /// The current lock holder, if an operation is running.
    pub locked_by: Option<LockHolder>,
    /// The fleet operation holding this host (`hoist deploy --stage`), if any.
    pub fleet_locked_by: Option<LockHolder>,
    /// The fleet operation that drained this host at its balancer and has
    /// not yet put it back in rotation.
    pub fleet_drained: Option<String>,
    /// The newest operation that changed what runs (deploy, hold, promote,
    /// abort, rollback, restart, the agent's own); db, data and traffic
    /// events, and attempts that changed nothing, are in `hoist history`.
    /// Serialised as a `hoist history --json` row, `failure` included.
    #[serde(serialize_with = "with_failure")]
    pub last_event: Option<Event>,
    /// Why the ledger could not be read, when it could not (the rest of
    /// the status comes from the site itself and is still true).
    pub ledger_problem: Option<String>,
    /// Notifications spooled in `notify/` and not yet delivered (or given
    /// up on): a deliverer is retrying them, or was killed and the next
    /// operation's deliverer takes them over.
    pub notifications_waiting: usize,
}

/// One release in `hoist releases`.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    /// The id.
    pub id: String,
    /// `live`, `previous`, `ready`, `failed` or `rolled-back`.
    pub state: &'static str,
    /// Version from the manifest.
    pub version: Option<String>,
    /// Build time.
    pub created: Option<jiff::Timestamp>,
    /// When it last became live.
    pub deployed_at: Option<jiff::Timestamp>,
    /// Total file bytes.
    pub bytes: u64,
    /// Bytes this release alone occupies (files hard-linked from an older release are not counted again).
    pub disk_bytes: u64,
    /// Recorded failure.
    pub failure: Option<String>,
}

/// Where a plain rollback goes: the release most recently live before the
/// current one that did not fail and was not rolled back from.
///
/// While a deploy or promote that already switched is unfinished (running,
/// or interrupted before `hoist recover`), the ledger does not yet know
/// its target went live: the release it replaced, in its journal, is the
/// previous one then, not the one the ledger last saw leave.
pub fn previous_release(
    context: &Context,
    live: Option<&str>,
) -> Result<Option<String>, DeployError> {
    let ids = context.site.release_ids()?;
    if let Some(from) = Journal::pending(&context.site)?
        .filter(|record| record.op.is_forward() && Some(record.release.as_str()) == live)
        .and_then(|record| record.from)
        .filter(|from| Some(from.as_str()) != live && ids.contains(from))
    {
        return Ok(Some(from));
    }
    // A ledger that cannot be read (or knows nothing, as after it was lost)
    // must not leave a rollback without a target: the newest release on
    // disk before the live one is the previous one then.
    let rows = context.ledger.releases().unwrap_or_default();
    if rows.is_empty() {
        return Ok(ids
            .into_iter()
            .rev()
            .find(|id| live.is_some_and(|live| id.as_str() < live)));
    }
    let on_disk: HashSet<String> = ids.into_iter().collect();
    let best = rows
        .into_iter()
        .filter(|row| Some(row.id.as_str()) != live && on_disk.contains(&row.id))
        .filter(|row| row.state == ReleaseState::Good && row.left_live_at.is_some())
        .max_by_key(|row| row.left_live_at);
    Ok(best.map(|row| row.id))
}

/// Builds `hoist status`.
pub fn status(context: &Context) -> Result<Status, DeployError> {
    let live = context.site.live()?;
    let mut ledger_problem = context.ledger_problem.clone();
    let mut note = |error: hoist_ledger::LedgerError| {
        ledger_problem.get_or_insert_with(|| error.to_string());
    };
    let row = match &live {
        Some(id) => context.ledger.release(id).unwrap_or_else(|error| {
            note(error);
            None
        }),
        None => None,
    };
    let last_event = context.ledger.last_operation().unwrap_or_else(|error| {
        note(error);
        None
    });
    let locked_by = DeployLock::holder(&context.site)?;
    // A journal whose operation still holds the lock is in progress, not interrupted.
    let pending = Journal::pending(&context.site)?.filter(|_| locked_by.is_none());
    Ok(Status {
        root: context.site.root().display().to_string(),
        previous: previous_release(context, live.as_deref())?,
        deployed_at: row.as_ref().and_then(|row| row.deployed_at),
        deployed_by: row.and_then(|row| row.deployed_by),
        live,
        pending,
        locked_by,
        fleet_locked_by: hoist_site::FleetLock::holder(&context.site)?,
        fleet_drained: std::fs::read_to_string(context.site.fleet_drained_path())
            .ok()
            .map(|text| text.trim().to_owned()),
        last_event,
        ledger_problem,
        notifications_waiting: hoist_notify::spool::list(context.site.root()).len(),
    })
}

/// Builds `hoist releases`: every release on disk, oldest first.
pub fn releases(context: &Context) -> Result<Vec<ReleaseInfo>, DeployError> {
    let live = context.site.live()?;
    let previous = previous_release(context, live.as_deref())?;
    let mut seen_inodes = HashSet::new();
    let mut infos = Vec::new();
    for id in context.site.release_ids()? {
        let row = context.ledger.release(&id)?;
        let state = if Some(&id) == live.as_ref() {
            "live"
        } else if Some(&id) == previous.as_ref() {
            "previous"
        } else {
            match row.as_ref().map(|row| row.state) {
                Some(ReleaseState::Failed) => "failed",
                Some(ReleaseState::RolledBack) => "rolled-back",
                _ => "ready",
            }
        };
        infos.push(ReleaseInfo {
            disk_bytes: unique_bytes(&context.site.release_dir(&id), &mut seen_inodes),
            state,
            version: row.as_ref().map(|row| row.version.clone()),
            created: row.as_ref().map(|row| row.created_at),
            deployed_at: row.as_ref().and_then(|row| row.deployed_at),
            bytes: row.as_ref().map_or(0, |row| row.bytes),
            failure: row.and_then(|row| row.failure),
            id,
        });
    }
    Ok(infos)
}

fn unique_bytes(dir: &std::path::Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
    walkdir(dir)
        .filter_map(|metadata| {
            seen.insert((metadata.dev(), metadata.ino()))
                .then(|| metadata.blocks() * 512)
        })
        .sum()
}

fn walkdir(dir: &std::path::Path) -> impl Iterator<Item = std::fs::Metadata> {
    let mut stack = vec![dir.to_owned()];
    std::iter::from_fn(move || loop {
        let path = stack.pop()?;
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            if let Ok(items) = std::fs::read_dir(&path) {
                stack.extend(items.flatten().map(|item| item.path()));
            }
        }
        return Some(metadata);
    })
}

/// An event as `hoist history --json` shows it: with its `failure`.
fn with_failure<S: serde::Serializer>(
    event: &Option<Event>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        event: &'a Event,
        failure: Option<&'a str>,
    }
    let row = event.as_ref().map(|event| Row {
        event,
        failure: event.failure(),
    });
    row.serialize(serializer)
}
