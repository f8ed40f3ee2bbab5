//! The stage phase: copy, verify, space, unpack, shared links, checks,
//! tests, seal. Nothing users get changes; a failure removes what was made.
//!
//! A staged release is complete, verified and read-only under
//! `releases/<id>`: any later switch (now, after `--hold`, or on another
//! host of a fleet) only has to make it live.

use crate::activate;
use crate::isolate::Runner;
use crate::shipped::Guard;
use crate::tree::{remove_tree, seal};
use crate::{command, shared, test_count, Context, DeployError, Reporter};
use hoist_config::{Config, Deploy};
use hoist_ledger::{Outcome, ReleaseRow, ReleaseState, Write};
use hoist_site::{durable, free_space, Journal, Step};
use hoist_store::{Artifact, Manifest, UnpackStats};
use std::path::Path;

/// Headroom kept free beyond the release itself, so a deploy never fills the disk to the last byte.
const SPACE_MARGIN: u64 = 1024 * 1024;

/// A release made ready by [`stage`]: on disk, verified, sealed.
#[derive(Debug)]
pub(crate) struct Staged {
    /// Its deploy settings.
    pub(crate) settings: Deploy,
    /// What unpacking wrote and linked (nothing when it was already on disk).
    pub(crate) stats: UnpackStats,
    /// Tests counted by the test gate.
    pub(crate) tests: Option<u64>,
}

/// Stages `artifact`; on error removes what it made and records why (the
/// journal is then finished).
pub(crate) fn stage(
    context: &Context,
    journal: &mut Journal,
    artifact: &Artifact,
    config: Option<&Config>,
    live: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Staged, DeployError> {
    prepare(context, journal, artifact, config, live, reporter).inspect_err(|error| {
        abandon(context, journal, error, reporter);
    })
}

/// Everything before the switch. On error the caller cleans up; live is untouched.
fn prepare(
    context: &Context,
    journal: &mut Journal,
    original: &Artifact,
    config: Option<&Config>,
    live: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Staged, DeployError> {
    let site = &context.site;
    let id = original.manifest().release.to_string();
    let release_dir = site.release_dir(&id);
    if release_dir.is_dir() {
        same_content(context, original, &id)?;
        keep_artifact(context, original, &id)?;
        // Already unpacked (a ready or rolled-back release): verify instead of unpacking again.
        journal.step(Step::Verify)?;
        reporter.step(
            "verify",
            &format!("`{id}` is already on disk; verifying it"),
        );
        crate::verify::require_clean(context, &id)?;
        crate::site_settings::check_host_values(context, &id, config)?;
        return Ok(Staged {
            settings: context.settings_for(&id, config)?,
            stats: UnpackStats::default(),
            tests: None,
        });
    }

    let incoming = site.kept_artifact(&id);
    journal.set_incoming(incoming.clone())?;
    journal.step(Step::Copy)?;
    reporter.step(
        "copy",
        &format!("{} -> incoming/", original.path().display()),
    );
    copy_in(context, original.path(), &incoming)?;

    journal.step(Step::Verify)?;
    // A hard link is the file already checked; only a real copy is read again.
    let artifact = match original.linked_at(&incoming) {
        Some(artifact) => artifact,
        None => {
            let limit = config.map_or_else(
                || Deploy::default().max_release_size,
                |c| c.deploy.max_release_size,
            );
            let copy = Artifact::open(&incoming, limit.as_u64())?;
            if copy.manifest().digest != original.manifest().digest {
                let detail = "the copy differs from the original".into();
                return Err(hoist_store::StoreError::Corrupt {
                    path: incoming,
                    detail,
                }
                .into());
            }
            copy
        }
    };
    let manifest = artifact.manifest();
    let previous = match live {
        Some(live) => read_manifest(&site.release_dir(live))
            .map(|manifest| (site.release_dir(live), manifest)),
        None => None,
    };

    journal.step(Step::Space)?;
    check_space(context, manifest, previous.as_ref().map(|(_, m)| m))?;

    journal.step(Step::Unpack)?;
    let partial = site.partial_dir(&id);
    remove_tree(&partial);
    reporter.step(
        "unpack",
        &format!(
            "{} files, {} bytes",
            manifest.file_count(),
            manifest.total_bytes()
        ),
    );
    let total = manifest.total_bytes();
    let mut done = 0u64;
    let previous_ref = previous
        .as_ref()
        .map(|(dir, manifest)| (dir.as_path(), manifest));
    let stats = artifact.unpack(&partial, previous_ref, &mut |bytes| {
        done += bytes;
        reporter.advance(done, total);
    })?;
    if let (Some(first), Some(live)) = (stats.stale_in_previous.first(), live) {
        reporter.warn(&format!(
            "{} in `{live}` no longer matched its manifest (`{first}`{}) and {} written fresh, not linked; run `hoist verify {live}`, and `hoist repair {live}` to put it back",
            match stats.stale_in_previous.len() {
                1 => "1 file".to_owned(),
                count => format!("{count} files"),
            },
            match stats.stale_in_previous.len() {
                1 => String::new(),
                count => format!(" and {} more", count - 1),
            },
            if stats.stale_in_previous.len() == 1 { "was" } else { "were" },
        ));
    }
    let stamps = crate::records::stamp(&partial, manifest)?;

    let settings = context.settings_for(&id, config)?;
    crate::site_settings::check_host_values(context, &id, config)?;
    journal.step(Step::Shared)?;
    shared::link_all(site, &partial, manifest, &settings.shared)?;

    let env_root = site.root().to_string_lossy().into_owned();
    let env_dir = partial.to_string_lossy().into_owned();
    let env_data = site.data_current_link().to_string_lossy().into_owned();
    let env = [
        ("HOIST_RELEASE", id.as_str()),
        ("HOIST_ROOT", env_root.as_str()),
        ("HOIST_RELEASE_DIR", env_dir.as_str()),
        ("HOIST_DATA", env_data.as_str()),
    ];
    // Checks may add files, never change what the artifact ships.
    let guard = Guard::new(&partial, manifest, &stamps, &settings.shared)?;
    let runner = Runner::new(context, &id, guard, manifest, &settings.shared);
    journal.step(Step::Checks)?;
    for check in &settings.checks {
        reporter.step("checks", check);
        let finished = runner.run(context, config, "check", check, &env, reporter)?;
        if !finished.success {
            let (status, tail) = (finished.status.clone(), finished.tail());
            return Err(DeployError::CommandFailed {
                what: "check",
                command: check.clone(),
                status,
                tail,
            });
        }
    }
    let tests = match &settings.test {
        Some(gate) => {
            journal.step(Step::Test)?;
            reporter.step("test", &gate.command);
            let finished = runner.run(context, config, "test", &gate.command, &env, reporter)?;
            Some(test_gate(context, gate, finished)?)
        }
        None => None,
    };

    journal.step(Step::Ready)?;
    crate::records::write(&partial, manifest, stamps, reporter)?;
    reporter.step("ready", "sealing the release read-only");
    seal(&partial)?;
    durable::sync_filesystem(&partial)?;
    durable::rename(&partial, &release_dir)?;
    // The artifact stays with its release, for `hoist repair`.
    journal.keep_incoming()?;
    context.record(
        &Write::Release {
            row: release_row(manifest, tests),
        },
        reporter,
    );
    Ok(Staged {
        settings,
        stats,
        tests,
    })
}

/// Hard-links the artifact into `incoming/` when it is on the same file
/// system (no bytes written), else copies it, after checking there is room;
/// either way durably. A copy that fails removes what it wrote.
pub(crate) fn copy_in(
    context: &Context,
    source: &Path,
    incoming: &Path,
) -> Result<(), DeployError> {
    let partial = incoming.with_extension("zst.partial");
    let _ = std::fs::remove_file(&partial);
    let _ = std::fs::remove_file(incoming);
    if std::fs::hard_link(source, &partial).is_err() {
        let size = std::fs::metadata(source)
            .map_err(|error| hoist_site::SiteError::Io {
                action: "cannot read",
                path: source.to_owned(),
                cause: error,
            })?
            .len();
        let free = free_space(&context.site.incoming_dir())?;
        let need = size.saturating_add(SPACE_MARGIN);
        if free.bytes < need {
            return Err(DeployError::NoSpace {
                root: context.site.root().to_owned(),
                need,
                free: free.bytes,
                unit: "bytes (to copy the artifact in)",
            });
        }
        let copied =
            std::fs::copy(source, &partial).and_then(|_| std::fs::File::open(&partial)?.sync_all());
        if let Err(source) = copied {
            let _ = std::fs::remove_file(&partial);
            return Err(hoist_site::SiteError::Io {
                action: "cannot copy the artifact to",
                path: partial,
                cause: source,
            }
            .into());
        }
    }
    durable::rename(&partial, incoming)?;
    Ok(())
}

fn check_space(
    context: &Context,
    manifest: &Manifest,
    previous: Option<&Manifest>,
) -> Result<(), DeployError> {
    let linkable: u64 = match previous {
        Some(previous) => manifest
            .files
            .iter()
            .filter(|entry| {
                previous
                    .entry(&entry.path)
                    .is_some_and(|old| old.blake3 == entry.blake3 && old.mode == entry.mode)
            })
            .map(|entry| entry.size)
            .sum(),
        None => 0,
    };
    // Each file rounds up to a 4 KiB block, so 10,000 tiny files still need 40 MB.
    let blocks = manifest.files.len() as u64 * 4096;
    let need_bytes = manifest.total_bytes() - linkable + blocks + SPACE_MARGIN;
    let need_inodes = manifest.files.len() as u64 + 16;
    let free = free_space(&context.site.releases_dir())?;
    let root = context.site.root().to_owned();
    if free.bytes < need_bytes {
        return Err(DeployError::NoSpace {
            root,
            need: need_bytes,
            free: free.bytes,
            unit: "bytes",
        });
    }
    if free.inodes < need_inodes {
        return Err(DeployError::NoSpace {
            root,
            need: need_inodes,
            free: free.inodes,
            unit: "inodes",
        });
    }
    Ok(())
}

/// The test gate on the finished test command: it passed, with enough tests.
fn test_gate(
    context: &Context,
    gate: &hoist_config::TestGate,
    finished: command::Finished,
) -> Result<u64, DeployError> {
    if !finished.success {
        let (status, tail) = (finished.status.clone(), finished.tail());
        return Err(DeployError::CommandFailed {
            what: "test",
            command: gate.command.clone(),
            status,
            tail,
        });
    }
    let refuse = |problem: String| DeployError::TestGate {
        command: gate.command.clone(),
        problem,
    };
    let count = test_count::parse(&finished.output).ok_or_else(|| {
        refuse("no test count hoist could read (e.g. `Files=23, Tests=9437` or `41 passed`)".into())
    })?;
    if let Some(min) = gate.min_tests.filter(|min| count < *min) {
        return Err(refuse(format!(
            "{count} tests, fewer than `min_tests` = {min}"
        )));
    }
    if let Some(last) = context
        .ledger
        .last_test_count()?
        .filter(|last| count < *last && !context.allow_fewer_tests)
    {
        return Err(refuse(format!(
            "{count} tests, fewer than the {last} counted at the last deploy"
        )));
    }
    Ok(count)
}

/// Refuses an artifact that reuses the id of release `id` on disk for other content.
pub(crate) fn same_content(
    context: &Context,
    artifact: &Artifact,
    id: &str,
) -> Result<(), DeployError> {
    let Some(on_disk) = read_manifest(&context.site.release_dir(id)) else {
        // Unreadable: verification names what is wrong with it.
        return Ok(());
    };
    let ours = &artifact.manifest().content_digest;
    if on_disk.content_digest == *ours {
        return Ok(());
    }
    Err(DeployError::ConflictingRelease {
        id: id.to_owned(),
        on_disk: on_disk.content_digest[..12.min(on_disk.content_digest.len())].to_owned(),
        artifact: ours[..12.min(ours.len())].to_owned(),
    })
}

/// Keeps `artifact` for release `id` already on disk when `incoming/` has
/// none for it (released before hoist kept them) and it is the very build
/// of that release: a refusal to verify it can then say `hoist repair` alone.
fn keep_artifact(context: &Context, artifact: &Artifact, id: &str) -> Result<(), DeployError> {
    let kept = context.site.kept_artifact(id);
    let same_build = read_manifest(&context.site.release_dir(id))
        .is_some_and(|on_disk| on_disk.digest == artifact.manifest().digest);
    if kept.exists() || !same_build {
        return Ok(());
    }
    copy_in(context, artifact.path(), &kept)
}

pub(crate) fn read_manifest(release_dir: &Path) -> Option<Manifest> {
    let bytes = std::fs::read(release_dir.join(hoist_store::MANIFEST_NAME)).ok()?;
    Manifest::from_json(&bytes).ok().filter(Manifest::is_intact)
}

pub(crate) fn release_row(manifest: &Manifest, test_count: Option<u64>) -> ReleaseRow {
    ReleaseRow {
        id: manifest.release.to_string(),
        app: manifest.app.clone(),
        version: manifest.version.clone(),
        revision: manifest.revision.clone(),
        created_at: manifest.created_at,
        content_digest: manifest.content_digest.clone(),
        files: manifest.file_count() as u64,
        bytes: manifest.total_bytes(),
        state: ReleaseState::Ready,
        test_count,
        deployed_at: None,
        deployed_by: None,
        left_live_at: None,
        failure: None,
    }
}

/// A stage failed: remove its leftovers and record why.
/// Best effort all through (the disk may be full): what the caller
/// reports is the error that stopped the deploy, never a cleanup problem.
pub(crate) fn abandon(
    context: &Context,
    journal: &mut Journal,
    error: &DeployError,
    reporter: &dyn Reporter,
) {
    let record = journal.record().clone();
    remove_tree(&crate::isolate::scratch_dir(context, &record.release));
    for problem in remove_tree(&context.site.partial_dir(&record.release)) {
        reporter.warn(&problem);
    }
    // Data the release refuses, or a release on disk that fails `verify`
    // (as `rollback` to it is), is a refusal, not a fault of the release.
    let outcome = match error {
        DeployError::DataUnsatisfied { .. }
        | DeployError::ReleaseDrift { .. }
        | DeployError::ParityMismatch { .. }
        | DeployError::ParityUnchecked { .. }
        | DeployError::ExpansionOpen { .. } => Outcome::Refused,
        _ => Outcome::Failed,
    };
    let event = activate::event(&record, outcome, Some(error.to_string()));
    context.record(&Write::Event { event }, reporter);
    if let Err(problem) = activate::journal_done(context, journal) {
        reporter.warn(&format!(
            "could not clear the journal after the failed deploy ({problem}); `hoist recover` will"
        ));
    }
}
