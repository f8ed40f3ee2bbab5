//! What can go wrong while a host takes in a release over the wire.

use std::path::PathBuf;

/// A failure of `hoist fleet need` or `hoist fleet receive`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShipError {
    /// A name from the wire that is no BLAKE3 digest: never used as a file name.
    #[error("`{digest}` is not a BLAKE3 digest (64 lowercase hex characters); refusing to use it as a file name")]
    BadDigest {
        /// What was sent (cut short).
        digest: String,
    },
    /// The stream carries a file the manifest does not list, or at another size.
    #[error("the transfer of release `{release}` sent `{name}`, {problem}")]
    Unexpected {
        /// The release being shipped.
        release: String,
        /// The entry's name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The manifest sent is unreadable, of another format, or not intact.
    #[error("the manifest sent is unusable: {detail}; ship it again from an artifact `hoist build` made")]
    BadManifest {
        /// What was found.
        detail: String,
    },
    /// The stream stopped before its end: what arrived is kept.
    #[error("the transfer stopped after {received_files} file(s), {received_bytes} bytes: {detail}; what arrived is kept in `{}`, and shipping again sends only the rest", parts.display())]
    Cut {
        /// Files written to the parts store before it stopped.
        received_files: u64,
        /// Their bytes.
        received_bytes: u64,
        /// Why it stopped.
        detail: String,
        /// The parts store.
        parts: PathBuf,
    },
    /// A file's bytes do not hash to the digest it was sent under.
    #[error("file `{digest}` arrived damaged: its bytes do not match its digest; nothing of it was kept")]
    Damaged {
        /// The digest it was sent as.
        digest: String,
    },
    /// Not enough room to assemble the artifact.
    #[error("not enough space in `{}` to assemble the artifact: {free} bytes free, {needed} needed; free space there (`hoist prune`) and ship again", dir.display())]
    NoSpace {
        /// Where the artifact goes.
        dir: PathBuf,
        /// Bytes available there.
        free: u64,
        /// Bytes the artifact needs.
        needed: u64,
    },
    /// An I/O error on a named path.
    #[error("{action} `{}`: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The assembled artifact failed the checks every artifact passes.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl ShipError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ShipError {
        let path = path.into();
        move |cause| ShipError::Io {
            action,
            path,
            cause,
        }
    }
}

impl hoist_error::Described for ShipError {
    fn kind(&self) -> &'static str {
        match self {
            ShipError::BadDigest { .. } => "digest-invalid",
            ShipError::Unexpected { .. } => "ship-unexpected-file",
            ShipError::BadManifest { .. } => "manifest-invalid",
            ShipError::Cut { .. } => "ship-cut",
            ShipError::Damaged { .. } => "ship-damaged",
            ShipError::NoSpace { .. } => "disk-full",
            ShipError::Io { cause, .. } => hoist_error::io_kind(cause),
            ShipError::Store(error) => error.kind(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ShipError::NoSpace { .. } => hoist_error::command("prune"),
            ShipError::Store(error) => error.hint(),
            _ => None,
        }
    }
}
