//! What stops a fingerprint from being stored or read.

use std::path::PathBuf;

/// Why a fingerprint could not be stored or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParityError {
    /// The file could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// `read`, `write`, `create`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The durable write failed.
    #[error(transparent)]
    Site(#[from] hoist_site::SiteError),
    /// The file is not a fingerprint.
    #[error("`{}` is not a runtime fingerprint: {problem}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the JSON parser said.
        problem: String,
    },
}

impl hoist_error::Described for ParityError {
    fn kind(&self) -> &'static str {
        match self {
            ParityError::Io { source, .. } => hoist_error::io_kind(source),
            ParityError::Site(inner) => inner.kind(),
            ParityError::Corrupt { .. } => "parity-corrupt",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ParityError::Corrupt { path, .. } => Some(format!(
                "remove `{}`; the next deploy of that release records it again",
                path.display()
            )),
            ParityError::Site(inner) => inner.hint(),
            ParityError::Io { .. } => None,
        }
    }
}
