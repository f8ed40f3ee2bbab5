use std::path::PathBuf;

/// What can go wrong while packing, unpacking or verifying a release.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error on a named path.
    #[error("{action} `{}`: {cause}", path.display())]
    Io {
        /// What hoist was doing, e.g. "cannot create".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The artifact cannot be read to the end: truncated or damaged.
    #[error("artifact `{}` is corrupt or truncated: {detail}; build and ship it again", path.display())]
    Corrupt {
        /// The artifact.
        path: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The file is not a hoist artifact: a tarball made by another tool, say.
    #[error("`{}` is not a hoist artifact: it is {format}. Make one from it with `hoist build --from-tarball {}` (add `--strip-components 1` when its files sit under one top directory such as `NAME-VERSION/`)", path.display(), path.display())]
    NotAnArtifact {
        /// The file.
        path: PathBuf,
        /// What it is instead, e.g. "a gzip-compressed tarball".
        format: &'static str,
    },
    /// `--from-tarball` of a file that is no tarball hoist can read.
    #[error("cannot import `{}`: it is {format}; hoist reads `.tar`, `.tar.gz` (`.tgz`), `.tar.bz2`, `.tar.xz` and `.tar.zst`", path.display())]
    UnsupportedTarball {
        /// The file.
        path: PathBuf,
        /// What it is.
        format: &'static str,
    },
    /// The version read from an imported tarball cannot go into a release id.
    #[error("version `{version}` (from {origin}) cannot be part of a release id: use letters, digits, `.`, `_`, `+` or `-`, e.g. `--version 0.940`")]
    BadVersion {
        /// The version as read.
        version: String,
        /// Where it was read: the top directory, the file name, `META.json`...
        origin: String,
    },
    /// A file's content does not match the digest its manifest records.
    #[error("artifact `{}`: `{entry}` does not match its manifest digest; the artifact was altered after it was built", artifact.display())]
    DigestMismatch {
        /// The artifact.
        artifact: PathBuf,
        /// The file inside it.
        entry: String,
    },
    /// An entry that could escape the release or is not a plain file, dir or link.
    #[error("artifact `{}`: entry `{entry}` {problem}; refusing to unpack", artifact.display())]
    UnsafeEntry {
        /// The artifact.
        artifact: PathBuf,
        /// The offending entry.
        entry: String,
        /// Why it is refused.
        problem: String,
    },
    /// The manifest declares more bytes than the configured limit allows.
    #[error("artifact `{}` unpacks to {size} bytes, over the limit of {limit}; raise `deploy.max_release_size` if this is expected", artifact.display())]
    TooLarge {
        /// The artifact.
        artifact: PathBuf,
        /// Declared unpacked size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The build command failed.
    #[error("build command `{command}` failed ({status})")]
    BuildCommand {
        /// The command.
        command: String,
        /// Its exit status.
        status: String,
    },
    /// A glob in `[build]` does not parse.
    #[error("bad glob `{glob}` in `[build]`: {message}")]
    Glob {
        /// The glob.
        glob: String,
        /// The parser's message.
        message: String,
    },
    /// A release id or version that cannot be used as a file name.
    #[error("`{0}` is not a valid release id")]
    BadReleaseId(String),
    /// A foreign tarball whose version could not be read.
    #[error("cannot tell the version of `{}`: it has no `NAME-VERSION` top directory or file name, nor a `version` in `META.json` or `package.json`; give it with `--version`", path.display())]
    NoVersion {
        /// The tarball.
        path: PathBuf,
    },
    /// A release's checks or tests left something a release cannot hold.
    #[error("the checks or tests left `{path}` in the release, {problem}; a release holds files, directories and symlinks inside it only. Have them write it outside the release (to a `[deploy] shared` path or /tmp); nothing was switched")]
    GeneratedUnsafe {
        /// The path in the release.
        path: String,
        /// What it is, phrased to follow the path.
        problem: String,
    },
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |cause| StoreError::Io {
            action,
            path,
            cause,
        }
    }
}

impl hoist_error::Described for StoreError {
    fn kind(&self) -> &'static str {
        match self {
            StoreError::Io { cause, .. } => hoist_error::io_kind(cause),
            StoreError::Corrupt { .. } => "artifact-corrupt",
            StoreError::NotAnArtifact { .. } => "artifact-not-hoist",
            StoreError::UnsupportedTarball { .. } => "tarball-unsupported",
            StoreError::DigestMismatch { .. } => "artifact-altered",
            StoreError::UnsafeEntry { .. } => "artifact-unsafe",
            StoreError::TooLarge { .. } => "artifact-too-large",
            StoreError::BuildCommand { .. } => "build-failed",
            StoreError::Glob { .. } => "config-invalid",
            StoreError::BadReleaseId(_) => "bad-release-id",
            StoreError::BadVersion { .. } => "version-invalid",
            StoreError::GeneratedUnsafe { .. } => "generated-unsafe",
            StoreError::NoVersion { .. } => "version-missing",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            StoreError::Corrupt { .. } | StoreError::DigestMismatch { .. } => {
                hoist_error::command("build")
            }
            StoreError::NoVersion { path } => hoist_error::command(&format!(
                "build --from-tarball {} --version VERSION",
                path.display()
            )),
            StoreError::NotAnArtifact { path, .. } => hoist_error::command(&format!(
                "build --from-tarball {} --strip-components 1",
                path.display()
            )),
            _ => None,
        }
    }
}
