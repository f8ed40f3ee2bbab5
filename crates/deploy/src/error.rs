use std::path::PathBuf;

/// Why a deploy, rollback, prune or recovery did not go through.
///
/// Every variant that stops *before* the switch leaves the live release
/// untouched; the ones raised after it say which release is live now.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    /// From the site layout, lock or journal.
    #[error(transparent)]
    Site(#[from] hoist_site::SiteError),
    /// From the release store.
    #[error(transparent)]
    Store(#[from] hoist_store::StoreError),
    /// From the database migrator.
    #[error(transparent)]
    Db(#[from] hoist_db::DbError),
    /// From the data versions.
    #[error(transparent)]
    Data(#[from] hoist_data::DataError),
    /// A contract or an abort of an expansion refused.
    #[error(transparent)]
    Contract(#[from] crate::ContractError),
    /// The release went live but its post-switch migrations failed.
    #[error("`{release}` is live, but its post-switch migrations failed: {problem}. Fix the migration and migrate again, or go back with `hoist rollback`")]
    PostMigration {
        /// The live release.
        release: String,
        /// Why.
        problem: String,
    },
    /// From the ledger.
    #[error(transparent)]
    Ledger(#[from] hoist_ledger::LedgerError),
    /// From the config.
    #[error(transparent)]
    Config(#[from] hoist_config::ConfigError),
    /// Storing or reading a runtime fingerprint.
    #[error(transparent)]
    Parity(#[from] hoist_parity::ParityError),
    /// `[parity] strict`: this host's runtime differs from the host where
    /// the release passed its tests.
    #[error("the runtime here differs from `{}`, where `{release}` passed its tests, in {}; with `[parity] strict = true` it does not deploy:\n{diff}", against.display(), probes.iter().map(|probe| format!("`{probe}`")).collect::<Vec<_>>().join(", "))]
    ParityMismatch {
        /// The release.
        release: String,
        /// The reference site's root.
        against: PathBuf,
        /// The probes whose output differs.
        probes: Vec<String>,
        /// Their unified diffs.
        diff: String,
    },
    /// `[parity] strict`, and the reference site has no fingerprint of the release.
    #[error("`{}` has no runtime fingerprint of `{release}` to compare with, and `[parity] strict = true` deploys only what matches it", against.display())]
    ParityUnchecked {
        /// The release.
        release: String,
        /// The reference site's root.
        against: PathBuf,
    },
    /// An earlier operation was killed and its journal is still there.
    #[error(
        "an interrupted {op} of `{release}` (stopped during `{step}`) is pending; recover it first"
    )]
    PendingRecovery {
        /// `deploy`, `rollback` or `prune`.
        op: String,
        /// The release it was about.
        release: String,
        /// The last step it began.
        step: String,
    },
    /// The target release predates migrations applied to the database.
    #[error("`{target}` predates applied migrations {}; roll back with the database to undo them too", migrations.join(", "))]
    SchemaPredated {
        /// The release.
        target: String,
        /// The migrations it does not know.
        migrations: Vec<String>,
    },
    /// A declarative migration is pending with other migrations after it.
    #[error("`{declarative}` is a declarative migration (expanded before the switch, contracted later), but {} after it; it must be the last migration a deploy brings: deploy them in separate releases", match after.as_slice() { [one] => format!("`{one}` comes"), _ => format!("{} come", after.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")) })]
    DeclarativeNotLast {
        /// The declarative migration.
        declarative: String,
        /// The pending migrations after it.
        after: Vec<String>,
    },
    /// More than one declarative migration is pending.
    #[error("{} are all pending declarative migrations; a deploy expands at most one: deploy them in separate releases", names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", "))]
    DeclarativeTwice {
        /// The pending declarative migrations.
        names: Vec<String>,
    },
    /// A declarative migration on a database that is not PostgreSQL.
    #[error("`{}` is a declarative migration, which needs PostgreSQL; `{database}` is not: write it as `.up.sql` (and `.down.sql`) files", file.display())]
    DeclarativeNeedsPostgres {
        /// The migration file.
        file: PathBuf,
        /// The database.
        database: String,
    },
    /// A new expansion, while the open one still has releases on its old side serving.
    #[error("`{target}` brings `{next}`, but `{open}` is still expanded, {}; contract it with `hoist db complete` once {} stopped serving (or remove it with `hoist db abort`), then deploy again", if serving.is_empty() { "and this deploy was told not to contract it (`--no-contract`: the fleet contracts it once no host runs its old side)".to_owned() } else { format!("and its old shape still serves {} on this host", serving.iter().map(|release| format!("`{release}`")).collect::<Vec<_>>().join(", ")) }, if serving.is_empty() { "every old release".to_owned() } else { serving.iter().map(|release| format!("`{release}`")).collect::<Vec<_>>().join(", ") })]
    ExpansionOpen {
        /// The open expansion (`0005_rename_name`).
        open: String,
        /// The declarative migration the deploy brings.
        next: String,
        /// The release deployed.
        target: String,
        /// Releases on the open expansion's old side that serve here
        /// (live, warm or held); empty when `--no-contract` refused.
        serving: Vec<String>,
    },
    /// A deploy's expand (or the contract before it) failed before its
    /// switch; `left` says what stays in the database.
    #[error("expand and contract failed, nothing was switched (`{live}` is still live): {problem}; {left}")]
    ExpandFailed {
        /// The release still live.
        live: String,
        /// Why it failed.
        problem: String,
        /// What stays in the database (the failed expansion removed, or not and what it breaks).
        left: String,
        /// The way out.
        fix: String,
        /// Its kind: `expand-failed`, or the cause's own when that says
        /// more (`expand-faults`: rows to mend, nothing to resume).
        kind: &'static str,
    },
    /// The target failed after its expansion was built: the expansion stays open.
    #[error("{error}; the expansion of `{migration}` stays open (the live release does not use it): deploy a fixed release to reuse it, or `hoist db abort` to remove it")]
    ExpansionKept {
        /// Why the target failed.
        error: Box<DeployError>,
        /// The expansion built for it.
        migration: String,
    },
    /// `rollback --with-db` of an expansion an abort cannot undo.
    #[error("`--with-db` cannot remove the expansion `{open}`: its op {op} (`sql`) has no `down`, so an abort cannot undo it; nothing was switched. `hoist rollback` without `--with-db` switches to `{target}` and keeps the expansion (`{target}` runs on the old shape, which it keeps); `hoist db complete` ends it once a release with `{open}` serves again")]
    CannotAbort {
        /// The open expansion.
        open: String,
        /// The 1-based number of its `sql` op without `down`.
        op: usize,
        /// The release asked for.
        target: String,
    },
    /// `rollback --with-db` switched back, but could not remove the expansion.
    #[error(
        "`{release}` is live again, but the expansion `{open}` was not removed: {problem}; {fix}"
    )]
    ExpansionNotAborted {
        /// The release live again.
        release: String,
        /// The open expansion.
        open: String,
        /// Why not.
        problem: String,
        /// The way out.
        fix: String,
    },
    /// `rollback --with-db` to a release that predates classic migrations and an open expansion.
    #[error("`{target}` predates the classic migrations {} and the open expansion `{open}`; `--with-db` undoes one kind at a time: roll back to a release with the classic migrations first, then on with `--with-db`", classic.join(", "))]
    WithDbMixed {
        /// The release rolled back to.
        target: String,
        /// The classic migrations it predates.
        classic: Vec<String>,
        /// The open expansion.
        open: String,
    },
    /// A rollback to a release older than contracted declarative migrations.
    #[error("`{target}` predates {}, which {} contracted (the old shape `{target}` reads is gone), so it would fail on this schema; nothing was switched. Write a new migration that restores the old shape ({}) and deploy it, or switch anyway with `hoist rollback --force`", crate::rollback_expand::Restore::names(restores), crate::rollback_expand::Restore::were(restores), crate::rollback_expand::Restore::ops(restores))]
    ContractedPredated {
        /// The release rolled back to.
        target: String,
        /// Every contracted migration it predates, oldest first, each with
        /// the operations of a migration that would put its old shape back.
        restores: Vec<crate::rollback_expand::Restore>,
    },
    /// The agent's watch wanted to roll back on its own, and could not safely.
    #[error("`{bad}` is still live and was not rolled back to `{target}` automatically: {problem}; {fix}")]
    AutoRollbackRefused {
        /// The release the watch found bad.
        bad: String,
        /// The release it would have gone back to.
        target: String,
        /// Why not.
        problem: String,
        /// What the operator can run.
        fix: String,
    },
    /// The release needs other data than what is (or would be) live.
    #[error("release `{release}` requires {requires}, but the live data is {}; nothing was switched. {fix}", live.as_deref().map_or_else(|| "none".to_owned(), |live| format!("`{live}`")))]
    DataUnsatisfied {
        /// The release.
        release: String,
        /// What its `[data]` asks for: ``data `WS221` `` or its check failing.
        requires: String,
        /// The data version it would have run on.
        live: Option<String>,
        /// The command that gets out of it.
        fix: String,
    },
    /// `rollback --with-data` to a release no data version is recorded with.
    #[error("no data version is recorded with `{release}` (no data was live when it went live, or it went live before hoist noted data versions); roll back without `--with-data`, then pick the data with `hoist data roll VERSION`")]
    NoDataRecorded {
        /// The target release.
        release: String,
    },
    /// The app did not take a data reload: the data went back, the code stayed.
    #[error("{problem}")]
    DataReloadFailed {
        /// The data version that was rolled.
        version: String,
        /// The data version live again.
        restored: Option<String>,
        /// The agent's account of it.
        problem: String,
    },
    /// `data/current` moved but the agent could not be told.
    #[error("`data/current` names `{version}`, but the agent could not be told ({problem}), so the app may not have reloaded; recover to tell it")]
    DataNotTold {
        /// The data version now live.
        version: String,
        /// Why the agent was not told.
        problem: String,
    },
    /// Not enough free space for the new release.
    #[error("not enough disk space under `{}`: the release needs {need} more {unit}, only {free} are free; prune old releases or free space", root.display())]
    NoSpace {
        /// The site root.
        root: PathBuf,
        /// What the unpack needs.
        need: u64,
        /// What is free.
        free: u64,
        /// `bytes` or `inodes`.
        unit: &'static str,
    },
    /// A `[deploy] shared` file is not in `shared/`.
    #[error("shared file `{entry}` is missing: create `{}` before deploying", expected.display())]
    SharedMissing {
        /// The config entry.
        entry: String,
        /// Where it should be.
        expected: PathBuf,
    },
    /// A `[deploy] shared` path lies under a symlink the artifact made.
    #[error("shared path `{entry}` lies under `{link}`, which the release has as a symlink; hoist never creates or removes anything through a link. Point `deploy.shared` at the real path, or ship `{link}` as a directory")]
    SharedThroughLink {
        /// The config entry.
        entry: String,
        /// The symlink on the way, relative to the release.
        link: String,
    },
    /// A `[deploy] shared` path lies under a file the artifact made.
    #[error("shared path `{entry}` lies under `{file}`, which the release has as a file; ship `{file}` as a directory or change `deploy.shared`")]
    SharedNotADirectory {
        /// The config entry.
        entry: String,
        /// The file on the way, relative to the release.
        file: String,
    },
    /// A symlink of the release would climb out through a shared path.
    #[error("release link `{entry}` {problem}; refusing to link `shared/` into this release")]
    SharedEscape {
        /// The link in the release.
        entry: String,
        /// Why it is refused.
        problem: String,
    },
    /// The artifact reuses a release id that is on disk with other content.
    #[error("release `{id}` is already on disk with other content (digest `{on_disk}`, the artifact's is `{artifact}`); a release id names one content. Build again for a new id, or remove the old release with `hoist prune` first if it is not live")]
    ConflictingRelease {
        /// The release id.
        id: String,
        /// The content digest of the release on disk.
        on_disk: String,
        /// The content digest of the artifact.
        artifact: String,
    },
    /// The ledger cannot take a write, so the deploy stopped before its switch.
    #[error("the ledger cannot be written ({problem}); nothing was switched (the release is unpacked and ready). Recover to move a damaged ledger aside, or free disk space, then deploy again")]
    LedgerUnwritable {
        /// Why.
        problem: String,
    },
    /// A command (check, test, restart) could not be started.
    #[error("cannot run `{command}`: {cause}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        cause: std::io::Error,
    },
    /// A check or the test suite failed; nothing was switched.
    #[error("{what} `{command}` failed ({status}); the live release is unchanged\n{tail}")]
    CommandFailed {
        /// `check` or `test`.
        what: &'static str,
        /// The command.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of its output.
        tail: String,
    },
    /// A check or the test changed or removed a file the artifact ships
    /// (which may have been shared with the live release); nothing was switched.
    #[error("{what} `{command}` {verb} `{path}`{}, which the artifact ships; checks may add files, not change shipped ones — build the change into the artifact{}", if *others > 0 { format!(" (and {others} more)") } else { String::new() }, crate::shipped::Sharers(damaged))]
    ShippedChanged {
        /// `check` or `test`.
        what: &'static str,
        /// The command.
        command: String,
        /// `changed` or `removed`.
        verb: &'static str,
        /// The first shipped file it changed.
        path: String,
        /// How many more it changed.
        others: usize,
        /// Releases that shared a changed file, and whether each was put back.
        damaged: Vec<crate::shipped::Damaged>,
    },
    /// The test gate found too few tests.
    #[error("test command `{command}` reported {problem}; the live release is unchanged")]
    TestGate {
        /// The command.
        command: String,
        /// What was wrong with the count.
        problem: String,
    },
    /// The restart or health check failed after the switch, and hoist switched back.
    #[error("{problem}; switched back to `{restored}`")]
    SwitchedBack {
        /// What failed.
        problem: String,
        /// The release live again.
        restored: String,
    },
    /// As [`DeployError::SwitchedBack`], but the release switched back to
    /// does not answer `health` either (`problem` says so).
    #[error("{problem}; `hoist status` shows what runs, a restart starts `{restored}` again")]
    SwitchedBackUnhealthy {
        /// What failed, going forward and back.
        problem: String,
        /// The release `current` names again.
        restored: String,
    },
    /// The restart or health check failed and there was nothing to switch back to.
    #[error("{problem}; there was no previous release to switch back to")]
    FirstDeployFailed {
        /// What failed.
        problem: String,
    },
    /// The `pre_switch` hook failed; nothing was switched.
    #[error("hook `{hook}` (`{command}`) failed ({status}); nothing was switched{}\n{tail}", live.as_deref().map(|live| format!(", `{live}` stays live")).unwrap_or_default())]
    HookFailed {
        /// `pre_switch`.
        hook: &'static str,
        /// The command.
        command: String,
        /// Its exit status, or that its timeout killed it.
        status: String,
        /// The end of its output.
        tail: String,
        /// The release that stays live.
        live: Option<String>,
    },
    /// The link walk found dead links; users never got the release (agent
    /// mode), or it was switched back (external mode).
    #[error("{problem}")]
    DeadLinks {
        /// What the walk found, each dead link with the pages linking to it.
        problem: String,
    },
    /// The target's migrations failed before the switch; nothing was switched.
    #[error("migrations failed, nothing was switched: {error}")]
    MigrateFailed {
        /// Why, with its own kind and way out.
        error: Box<DeployError>,
    },
    /// The agent refused the candidate; traffic never moved.
    #[error("{problem}")]
    CandidateFailed {
        /// What the agent said.
        problem: String,
    },
    /// `rollback --with-db` ran its downs, then the switch failed.
    #[error("{problem}; but the downs of {} already ran{}, so the release still live runs on the older schema: roll back with the database again once the target starts, or put the schema forward with `hoist db migrate`", undone.join(", "), backup.as_ref().map(|path| format!(" (backup `{}`)", path.display())).unwrap_or_default())]
    UndoneButNotSwitched {
        /// Why the switch failed.
        problem: String,
        /// The migrations undone.
        undone: Vec<String>,
        /// The backup taken before.
        backup: Option<PathBuf>,
    },
    /// The live release changed while the operation waited for the site.
    #[error("`{}` is live now; nothing was switched", live.as_deref().unwrap_or("nothing"))]
    LiveChanged {
        /// The release live now.
        live: Option<String>,
    },
    /// The command needs a running agent.
    #[error("{what} needs a running agent; start one")]
    NeedsAgent {
        /// What was asked.
        what: &'static str,
    },
    /// No release to roll back to.
    #[error("no previous release to roll back to; pick one with `--to`")]
    NoPrevious,
    /// The named release is not on disk.
    #[error("release `{0}` is not on disk")]
    UnknownRelease(String),
    /// The named release is marked failed.
    #[error("release `{id}` failed ({failure}); refusing to make it live. Fix the cause, then deploy its artifact again")]
    ReleaseFailed {
        /// The release.
        id: String,
        /// Its recorded failure.
        failure: String,
        /// Its artifact, kept in `incoming/`.
        artifact: PathBuf,
    },
    /// The named release no longer matches its manifest.
    #[error("release `{id}` fails verification ({summary}); refusing to make it live. `hoist verify {id}` lists what differs; a repair puts it back from its artifact")]
    ReleaseDrift {
        /// The release.
        id: String,
        /// What differs.
        summary: String,
    },
    /// `hoist repair` has no artifact for the release.
    #[error("no artifact for `{id}` in `{}` (it is kept from the deploy on; older releases and ones staged by hand have none); give it with `--artifact FILE`", incoming.display())]
    NoArtifact {
        /// The release.
        id: String,
        /// Where it was looked for.
        incoming: PathBuf,
    },
    /// `hoist repair --artifact` was given a file that is not there.
    #[error("the artifact given for `{id}`, `{}`, does not exist", path.display())]
    ArtifactNotFound {
        /// The release.
        id: String,
        /// The path given.
        path: PathBuf,
    },
    /// The artifact `hoist repair` would restore from cannot be read. The
    /// cause is quoted, not returned as a source, so that its hint (a
    /// rebuild, which would get a new id) does not win over this one.
    #[error("cannot repair `{id}` from `{}`: {problem}", path.display())]
    ArtifactUnusable {
        /// The release.
        id: String,
        /// The artifact.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// `hoist repair --artifact` was given another release's artifact.
    #[error("artifact `{}` is not the one `{id}` was deployed from (its manifest digest is `{artifact}`, the release's `{release}`); give `--artifact` the artifact of that release", path.display())]
    ArtifactMismatch {
        /// The release.
        id: String,
        /// The artifact given.
        path: PathBuf,
        /// Its manifest digest (short).
        artifact: String,
        /// The release's manifest digest (short).
        release: String,
    },
    /// There is no live release to act on.
    #[error("nothing is live at `{}` yet; deploy first", root.display())]
    NothingLive {
        /// The site root.
        root: PathBuf,
    },
    /// `hoist restart` without an agent, and with neither `restart` nor
    /// `health` configured: there is nothing it could do or check.
    #[error("nothing to restart `{live}` with: no agent runs, and the site has neither `[deploy] restart` nor `health`; set them in the site's `site.toml`, or run `hoist agent`")]
    NothingToRestart {
        /// The live release.
        live: String,
    },
    /// A config value names a variable that is set nowhere hoist looked.
    #[error("`{key}` names `${name}`, which is set neither in {looked_in} nor in hoist's environment; add `{name}=...` to the site's env file, or export it")]
    MissingVariable {
        /// The config key, e.g. `database.url`.
        key: String,
        /// The variable, without `$`.
        name: String,
        /// Where it was looked for.
        looked_in: String,
    },
    /// A host value (`deploy.health`), once its variables are expanded, is
    /// not usable; found at stage, before anything live changed.
    #[error("`{key}` = `{written}` is not usable: {problem}; nothing was changed. Fix it in `{}`", site_file.display())]
    BadHostValue {
        /// The config key, e.g. `deploy.health`.
        key: String,
        /// The value as written (variables unexpanded: never the secret).
        written: String,
        /// What is wrong with it once expanded.
        problem: String,
        /// The site's `site.toml`, where host values live.
        site_file: PathBuf,
    },
}

impl hoist_error::Described for DeployError {
    fn kind(&self) -> &'static str {
        match self {
            DeployError::Site(inner) => inner.kind(),
            DeployError::Store(inner) => inner.kind(),
            DeployError::Db(inner) => inner.kind(),
            DeployError::Data(inner) => inner.kind(),
            DeployError::Contract(inner) => inner.kind(),
            DeployError::Ledger(inner) => inner.kind(),
            DeployError::Config(inner) => inner.kind(),
            DeployError::Parity(inner) => inner.kind(),
            DeployError::ParityMismatch { .. } => "parity-mismatch",
            DeployError::ParityUnchecked { .. } => "parity-unchecked",
            DeployError::PostMigration { .. } => "post-migration-failed",
            DeployError::PendingRecovery { .. } => "recovery-pending",
            DeployError::SchemaPredated { .. } => "schema-predated",
            DeployError::DeclarativeNotLast { .. } => "declarative-not-last",
            DeployError::DeclarativeTwice { .. } => "declarative-twice",
            // As `hoist db migrate` says it (`hoist_db`'s `postgres-only`): one refusal, one kind.
            DeployError::DeclarativeNeedsPostgres { .. } => "postgres-only",
            DeployError::ExpansionOpen { .. } => "expansion-open",
            DeployError::ContractedPredated { .. } => "contracted-predated",
            DeployError::ExpansionNotAborted { .. } => "expansion-not-aborted",
            DeployError::ExpandFailed { kind, .. } => kind,
            DeployError::CannotAbort { .. } => "cannot-abort",
            DeployError::ExpansionKept { error, .. } => error.kind(),
            DeployError::WithDbMixed { .. } => "with-db-mixed",
            DeployError::AutoRollbackRefused { .. } => "auto-rollback-refused",
            DeployError::DataUnsatisfied { .. } => "data-unsatisfied",
            DeployError::NoDataRecorded { .. } => "no-data-recorded",
            DeployError::DataReloadFailed { .. } => "data-reload-failed",
            DeployError::DataNotTold { .. } => "data-not-told",
            DeployError::MissingVariable { .. } => "missing-variable",
            DeployError::NoArtifact { .. } => "artifact-missing",
            DeployError::ArtifactMismatch { .. } => "artifact-mismatch",
            DeployError::ArtifactNotFound { .. } => "artifact-missing",
            DeployError::ArtifactUnusable { .. } => "artifact-invalid",
            DeployError::BadHostValue { .. } => "config-invalid",
            DeployError::NoSpace { .. } => "no-space",
            DeployError::SharedMissing { .. } => "shared-missing",
            DeployError::SharedThroughLink { .. }
            | DeployError::SharedNotADirectory { .. }
            | DeployError::SharedEscape { .. } => "shared-invalid",
            DeployError::ConflictingRelease { .. } => "release-conflict",
            DeployError::LedgerUnwritable { .. } => "ledger-unwritable",
            DeployError::Spawn { .. } => "spawn-failed",
            DeployError::CommandFailed { .. } => "check-failed",
            DeployError::TestGate { .. } => "test-gate",
            DeployError::ShippedChanged { .. } => "check-changed-shipped",
            DeployError::SwitchedBack { .. } => "switched-back",
            DeployError::SwitchedBackUnhealthy { .. } => "switched-back-unhealthy",
            DeployError::FirstDeployFailed { .. } => "deploy-failed",
            DeployError::CandidateFailed { .. } => "candidate-failed",
            DeployError::MigrateFailed { error } => error.kind(),
            DeployError::HookFailed { .. } => "hook-failed",
            DeployError::DeadLinks { .. } => "dead-links",
            DeployError::UndoneButNotSwitched { .. } => "undone-not-switched",
            DeployError::LiveChanged { .. } => "live-changed",
            DeployError::NeedsAgent { .. } => "agent-needed",
            DeployError::NoPrevious => "no-previous",
            DeployError::UnknownRelease(_) => "unknown-release",
            DeployError::ReleaseFailed { .. } => "release-failed",
            DeployError::ReleaseDrift { .. } => "verify-failed",
            DeployError::NothingLive { .. } => "nothing-live",
            DeployError::NothingToRestart { .. } => "nothing-to-restart",
        }
    }

    fn hint(&self) -> Option<String> {
        use hoist_error::command;
        match self {
            DeployError::Site(inner) => inner.hint(),
            DeployError::Store(inner) => inner.hint(),
            DeployError::Db(inner) => inner.hint(),
            DeployError::Data(inner) => inner.hint(),
            DeployError::Contract(inner) => inner.hint(),
            DeployError::Ledger(inner) => inner.hint(),
            DeployError::Config(inner) => inner.hint(),
            DeployError::Parity(inner) => inner.hint(),
            DeployError::ParityMismatch { against, .. } => Some(format!(
                "`hoist parity --against {}` shows the differences; make this host's software match, or set `[parity] strict = false` to deploy with a warning",
                against.display()
            )),
            DeployError::ParityUnchecked { against, .. } => Some(format!(
                "deploy the release to `{}` first (where its tests run), or set `[parity] strict = false`",
                against.display()
            )),
            DeployError::PostMigration { .. } => command("db migrate"),
            DeployError::MigrateFailed { error } => error.hint().or_else(|| {
                Some("fix the migration, then `hoist build` and deploy the new artifact".to_owned())
            }),
            DeployError::DeadLinks { .. } => Some(
                "fix the links and deploy again; `hoist walk URL` checks a site on demand, and `[deploy.smoke]` sets the walk's `depth` and `max_pages`".to_owned(),
            ),
            DeployError::PendingRecovery { .. }
            | DeployError::DataNotTold { .. }
            | DeployError::LedgerUnwritable { .. } => command("recover"),
            DeployError::SchemaPredated { .. } => command("rollback --with-db"),
            DeployError::ExpansionOpen { .. } => command("db status"),
            DeployError::ExpandFailed { fix, .. } | DeployError::ExpansionNotAborted { fix, .. } => {
                Some(fix.clone())
            }
            DeployError::CannotAbort { target, .. } => command(&format!("rollback --to {target}")),
            DeployError::ExpansionKept { migration, .. } => Some(format!(
                "deploy a fixed release (it reuses the expansion of `{migration}`), or `hoist db abort` to remove it"
            )),
            // Not `--force`: the message says the old code would fail on this schema.
            DeployError::ContractedPredated { restores, .. } => Some(format!(
                "write a new migration that restores the old shape ({}) and deploy it",
                crate::rollback_expand::Restore::ops(restores)
            )),
            DeployError::NoSpace { .. } => command("prune"),
            DeployError::NeedsAgent { .. } => command("agent"),
            DeployError::NoPrevious | DeployError::UnknownRelease(_) => command("releases"),
            DeployError::ReleaseDrift { id, .. } => command(&format!("repair {id}")),
            DeployError::TestGate { problem, .. } if problem.contains("at the last deploy") => {
                command("deploy --allow-fewer-tests ARTIFACT")
            }
            DeployError::ReleaseFailed { artifact, .. } => {
                command(&format!("deploy {}", artifact.display()))
            }
            DeployError::NoDataRecorded { .. } => command("data roll VERSION"),
            DeployError::ConflictingRelease { .. } => command("build"),
            DeployError::SwitchedBackUnhealthy { .. } => command("restart"),
            DeployError::UndoneButNotSwitched { .. } => command("rollback --with-db"),
            // Not `init --site --force`: it would throw the site's other settings away.
            DeployError::NothingToRestart { .. } => Some(
                "edit the site's `site.toml`: set `[deploy] restart` (or `health`); or start `hoist agent`".to_owned(),
            ),
            DeployError::NoArtifact { id, .. }
            | DeployError::ArtifactMismatch { id, .. }
            | DeployError::ArtifactNotFound { id, .. } => {
                command(&format!("repair {id} --artifact FILE"))
            }
            DeployError::ArtifactUnusable { id, .. } => {
                command(&format!("repair {id} --artifact <good copy>"))
            }
            DeployError::AutoRollbackRefused { fix, .. }
            | DeployError::DataUnsatisfied { fix, .. } => Some(fix.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarative_not_last_said_one_file_come_after_it() {
        // "`0005_t5` come after it": one file took the plural.
        let one = DeployError::DeclarativeNotLast {
            declarative: "0004_t4".to_owned(),
            after: vec!["0005_t5".to_owned()],
        };
        assert!(
            one.to_string().contains("but `0005_t5` comes after it"),
            "{one}"
        );
        let two = DeployError::DeclarativeNotLast {
            declarative: "0004_t4".to_owned(),
            after: vec!["0005_t5".to_owned(), "0006_t6".to_owned()],
        };
        assert!(
            two.to_string()
                .contains("but `0005_t5`, `0006_t6` come after it"),
            "{two}"
        );
    }
}
