//! What a release's `checks` and `test` may do to it: add files (recorded
//! as generated at the seal), never change or remove what the artifact
//! ships.
//!
//! A shipped file may be hard-linked from the live release (dedup), so a
//! check that writes it in place writes the live release too. After each
//! command every shipped file's `stat` is compared with the stamp taken
//! right after unpack (one `fstatat` each); a file whose stamp moved is
//! hashed, and one that no longer matches its manifest entry (content or
//! mode), or is gone, refuses the deploy. Every release that shares the
//! written inode is put back from its kept artifact (the live one first),
//! as `hoist repair` would, and the refusal says so, or names the
//! `hoist repair` that does it when no artifact is kept.

use crate::{Context, DeployError};
use hoist_beneath::Dir;
use hoist_config::{Config, Deploy};
use hoist_store::{Artifact, Drift, Manifest, Stamps};
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

/// The shipped files of a release being staged, as unpack left them.
pub(crate) struct Guard<'a> {
    tree: Dir,
    manifest: &'a Manifest,
    /// Stamps of the shipped files outside the shared paths (those were
    /// replaced by their links on purpose).
    stamps: Stamps,
    /// The file system the release is on: an inode number means nothing on another.
    dev: Option<u64>,
}

/// A release that shared an inode a check wrote.
#[derive(Debug)]
pub struct Damaged {
    /// The release.
    pub release: String,
    /// Whether it is the live one.
    pub live: bool,
    /// What became of it.
    pub outcome: PutBack,
}

/// Whether a damaged release was put back.
#[derive(Debug)]
pub enum PutBack {
    /// Restored from its kept artifact; its copy was wrong for at most this long.
    Restored {
        /// From the command's start to the restore's end.
        ms: u128,
    },
    /// No usable artifact is kept for it.
    NoArtifact,
    /// The restore failed.
    Failed(String),
}

impl<'a> Guard<'a> {
    /// Keeps `stamps` (taken right after unpack) for every shipped file not
    /// at or under one of the `[deploy] shared` entries.
    pub(crate) fn new(
        partial: &Path,
        manifest: &'a Manifest,
        stamps: &Stamps,
        shared: &[String],
    ) -> Result<Guard<'a>, DeployError> {
        let tree = Dir::open(partial).map_err(|cause| hoist_site::SiteError::Io {
            action: "cannot open",
            path: partial.to_owned(),
            cause,
        })?;
        let mounts = crate::shared::mounts(shared);
        let mut stamps = stamps.clone();
        stamps.files.retain(|path, _| {
            !mounts.iter().any(|mount| {
                path == mount
                    || path
                        .strip_prefix(mount)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        });
        Ok(Guard {
            tree,
            manifest,
            stamps,
            dev: std::fs::metadata(partial)
                .ok()
                .map(|metadata| metadata.dev()),
        })
    }

    /// After `command` (a `check` or the `test`, started at `started`):
    /// refuses if it changed or removed a shipped file, having put back
    /// every release that shared the file's inode.
    pub(crate) fn after(
        &self,
        context: &Context,
        config: Option<&Config>,
        what: &'static str,
        command: &str,
        started: Instant,
    ) -> Result<(), DeployError> {
        let changed: Vec<String> = self
            .stamps
            .moved(&self.tree)
            .into_iter()
            .filter(|path| {
                self.manifest
                    .entry(path)
                    .is_some_and(|entry| !hoist_store::file_matches(&self.tree, entry))
            })
            .collect();
        let Some(first) = changed.first() else {
            return Ok(());
        };
        let removed = self.tree.metadata(Path::new(first)).is_err();
        let damaged = self.put_back_sharers(context, config, &changed, started);
        Err(DeployError::ShippedChanged {
            what,
            command: command.to_owned(),
            verb: if removed { "removed" } else { "changed" },
            path: first.clone(),
            others: changed.len() - 1,
            damaged,
        })
    }

    /// Every release on disk holding, at one of `paths`, the very inode
    /// unpack put there, whose copy no longer matches its own manifest:
    /// put back from its kept artifact, the live release first.
    fn put_back_sharers(
        &self,
        context: &Context,
        config: Option<&Config>,
        paths: &[String],
        started: Instant,
    ) -> Vec<Damaged> {
        let site = &context.site;
        let live = site.live().ok().flatten();
        let mut ids = site.release_ids().unwrap_or_default();
        ids.sort_by_key(|id| Some(id) != live.as_ref());
        let mut damaged = Vec::new();
        for id in ids {
            let dir = site.release_dir(&id);
            let (Ok(tree), Some(manifest)) = (Dir::open(&dir), crate::stage::read_manifest(&dir))
            else {
                continue;
            };
            let hit: Vec<String> = paths
                .iter()
                .filter(|path| {
                    let shares = self.stamps.files.get(*path).is_some_and(|stamp| {
                        tree.metadata(Path::new(path))
                            .is_ok_and(|m| m.ino() == stamp.ino && Some(m.dev()) == self.dev)
                    });
                    shares
                        && manifest
                            .entry(path)
                            .is_some_and(|entry| !hoist_store::file_matches(&tree, entry))
                })
                .cloned()
                .collect();
            if hit.is_empty() {
                continue;
            }
            let outcome = put_back(context, config, &id, &manifest, hit, started);
            damaged.push(Damaged {
                live: live.as_deref() == Some(id.as_str()),
                release: id,
                outcome,
            });
        }
        damaged
    }
}

/// Writes `paths` of release `id` again from its kept artifact, each beside
/// its place and renamed over it ([`hoist_store::restore`]).
fn put_back(
    context: &Context,
    config: Option<&Config>,
    id: &str,
    manifest: &Manifest,
    paths: Vec<String>,
    started: Instant,
) -> PutBack {
    let kept = context.site.kept_artifact(id);
    if !kept.is_file() {
        return PutBack::NoArtifact;
    }
    let limit = config.map_or_else(
        || Deploy::default().max_release_size,
        |config| config.deploy.max_release_size,
    );
    let artifact = match Artifact::open(&kept, limit.as_u64()) {
        Ok(artifact) if artifact.manifest().digest == manifest.digest => artifact,
        _ => return PutBack::NoArtifact,
    };
    let drift = Drift {
        changed: paths,
        ..Drift::default()
    };
    match hoist_store::restore(&artifact, &context.site.release_dir(id), &drift) {
        Ok(_) => PutBack::Restored {
            ms: started.elapsed().as_millis(),
        },
        Err(error) => PutBack::Failed(error.to_string()),
    }
}

/// The part of the refusal that says what became of the releases sharing
/// the changed file ("" when none did).
pub(crate) struct Sharers<'a>(pub(crate) &'a [Damaged]);

impl fmt::Display for Sharers<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            // No release on disk shares the changed file, or the command ran isolated.
            return write!(out, "; the live release is unchanged");
        }
        for damaged in self.0 {
            let id = &damaged.release;
            let which = if damaged.live {
                format!("the live release `{id}`")
            } else {
                format!("the release `{id}`")
            };
            match &damaged.outcome {
                PutBack::Restored { ms } => write!(
                    out,
                    "; it was shared with {which}, whose copy was changed for up to {ms} ms; hoist put it back from `{id}`'s artifact"
                )?,
                PutBack::NoArtifact => write!(
                    out,
                    "; it was shared with {which}, whose copy is now damaged: no artifact of `{id}` is kept, and `hoist repair {id} --artifact FILE` puts it back"
                )?,
                PutBack::Failed(problem) => write!(
                    out,
                    "; it was shared with {which}, whose copy is now damaged: putting it back failed ({problem}), and `hoist repair {id}` puts it back"
                )?,
            }
        }
        Ok(())
    }
}
