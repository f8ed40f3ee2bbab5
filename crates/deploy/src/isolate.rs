//! Running `checks` and `test` so that they cannot write a shipped file at
//! all: each runs in a private mount namespace in which the release being
//! staged is covered by an overlayfs (lower: the release; upper and work:
//! a scratch dir beside it, `releases/.<id>.checks`). A write to a shipped
//! file, even one hard-linked from the live release, lands in the upper
//! dir; the release and every release sharing its inodes are untouched.
//!
//! Afterwards what the command added is copied from the upper dir into
//! the release ([`crate::overlay_upper`]), to be recorded as generated at
//! the seal, and a shipped file it changed or removed refuses the deploy.
//!
//! The namespace is made by `hoist isolated-check` (hidden), which
//! `unshare`s, mounts, and `exec`s `sh -c COMMAND`. Where that cannot be
//! done (not root, no overlayfs, a path overlayfs cannot take) the child
//! never marks the scratch dir; the command then runs as before, with the
//! stamps of [`crate::shipped::Guard`] detecting a write after the fact,
//! and the deploy says so once.

use crate::command::{self, Finished};
use crate::shipped::Guard;
use crate::tree::remove_tree;
use crate::{Context, DeployError, Reporter};
use hoist_config::Config;
use hoist_store::Manifest;
use std::cell::Cell;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The hidden subcommand that runs one command inside the overlay.
pub const SUBCOMMAND: &str = "isolated-check";

/// The file the child writes into the scratch dir once the overlay is
/// mounted: its absence means the command never ran isolated.
const MARKER: &str = "mounted";

/// Turned off with `HOIST_ISOLATE_CHECKS=0`, to run checks as hoist did
/// before (and to test the detection that stands in when isolation cannot).
const SWITCH: &str = "HOIST_ISOLATE_CHECKS";

/// A command that ran isolated, and the shipped paths it changed or removed.
type Isolated = (Finished, Vec<(String, &'static str)>);

/// Runs the checks and the test of one release being staged.
pub(crate) struct Runner<'a> {
    partial: PathBuf,
    scratch: PathBuf,
    manifest: &'a Manifest,
    shared: &'a [String],
    guard: Guard<'a>,
    /// Still worth trying: cleared (and said once) when isolation failed.
    isolate: Cell<bool>,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(
        context: &Context,
        id: &str,
        guard: Guard<'a>,
        manifest: &'a Manifest,
        shared: &'a [String],
    ) -> Runner<'a> {
        Runner {
            partial: context.site.partial_dir(id),
            scratch: scratch_dir(context, id),
            manifest,
            shared,
            guard,
            isolate: Cell::new(std::env::var(SWITCH).map_or(true, |value| value != "0")),
        }
    }

    /// Runs `command` (a `check` or the `test`); refuses the deploy if it
    /// changed or removed a shipped file.
    pub(crate) fn run(
        &self,
        context: &Context,
        config: Option<&Config>,
        what: &'static str,
        command: &str,
        env: &[(&str, &str)],
        reporter: &dyn Reporter,
    ) -> Result<Finished, DeployError> {
        let started = Instant::now();
        let isolated = if self.isolate.get() {
            self.run_isolated(command, env, reporter)?
        } else {
            None
        };
        let (finished, changed) = match isolated {
            Some(done) => done,
            None => (command::run(command, &self.partial, env)?, Vec::new()),
        };
        // Even isolated: a command can still reach another release by its path.
        self.guard.after(context, config, what, command, started)?;
        let others = changed.len().saturating_sub(1);
        match changed.into_iter().next() {
            None => Ok(finished),
            Some((path, verb)) => Err(DeployError::ShippedChanged {
                what,
                command: command.to_owned(),
                verb,
                path,
                others,
                damaged: Vec::new(),
            }),
        }
    }

    /// `None` when isolation failed before the command ran.
    fn run_isolated(
        &self,
        command: &str,
        env: &[(&str, &str)],
        reporter: &dyn Reporter,
    ) -> Result<Option<Isolated>, DeployError> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |cause| hoist_site::SiteError::Io {
                action,
                path,
                cause,
            }
        };
        remove_tree(&self.scratch);
        let (upper, work) = (self.scratch.join("upper"), self.scratch.join("work"));
        for dir in [&upper, &work] {
            std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        }
        let exe = std::env::current_exe().map_err(io("cannot find", Path::new("hoist")))?;
        let mut child = std::process::Command::new(exe);
        child
            .arg(SUBCOMMAND)
            .arg(&self.partial)
            .arg(&self.scratch)
            .arg(command);
        let finished = command::run_command(child, command, &self.partial, env)?;
        if !self.scratch.join(MARKER).exists() {
            self.isolate.set(false);
            reporter.warn(&format!(
                "checks run without isolation here ({}): a write to a shipped file is found after the command, not prevented",
                finished.tail().lines().last().unwrap_or("no overlayfs or mount namespace")
            ));
            remove_tree(&self.scratch);
            return Ok(None);
        }
        let changed =
            crate::overlay_upper::apply(&upper, &self.partial, self.manifest, self.shared);
        remove_tree(&self.scratch);
        Ok(Some((finished, changed?)))
    }
}

/// The scratch dir beside the release being staged (a dot name: never
/// taken for a release).
pub(crate) fn scratch_dir(context: &Context, id: &str) -> PathBuf {
    context.site.releases_dir().join(format!(".{id}.checks"))
}

/// The child's side, in `hoist isolated-check RELEASE SCRATCH COMMAND`:
/// a private mount namespace, the overlay over `release`, the marker, then
/// `sh -c COMMAND` in its place. Returns only on failure.
pub fn enter(release: &Path, scratch: &Path, command: &str) -> std::io::Error {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    let none = None::<&str>;
    // Every change whole in the upper dir: no metadata-only copy-up (its
    // data would stay in the release), no renamed dir pointing back there.
    let options = format!(
        "lowerdir={},upperdir={},workdir={},redirect_dir=off,metacopy=off",
        release.display(),
        scratch.join("upper").display(),
        scratch.join("work").display()
    );
    let mounted = unshare(CloneFlags::CLONE_NEWNS)
        // Nothing mounted here may reach the host's namespace.
        .and_then(|()| mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none))
        .and_then(|()| {
            mount(
                Some("overlay"),
                release,
                Some("overlay"),
                MsFlags::empty(),
                Some(options.as_str()),
            )
        });
    if let Err(errno) = mounted {
        return std::io::Error::other(format!("cannot mount an overlay: {errno}"));
    }
    // The old working directory is the release under the overlay.
    if let Err(error) = std::env::set_current_dir(release) {
        return error;
    }
    if let Err(error) = std::fs::write(scratch.join(MARKER), b"") {
        return error;
    }
    std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .exec()
}
