use std::path::PathBuf;

/// A data-version failure. The live version is never touched by one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file operation failed.
    #[error("{action} `{}`: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The site layer refused (durable rename, ledger path...).
    #[error(transparent)]
    Site(#[from] hoist_site::SiteError),
    /// The ledger refused.
    #[error(transparent)]
    Ledger(#[from] hoist_ledger::LedgerError),
    /// The copy does not match what was read.
    #[error("the copy of `{}` does not match its source ({detail}); nothing was loaded", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// A SQLite file failed `PRAGMA integrity_check`.
    #[error("`{}` failed SQLite's integrity check: {problem}; nothing was loaded, the live data is unchanged", path.display())]
    Integrity {
        /// The file, in the source.
        path: PathBuf,
        /// SQLite's verdict.
        problem: String,
    },
    /// The user's `--check` command failed.
    #[error("check `{command}` refused the data ({status}); nothing was loaded:\n{tail}")]
    CheckFailed {
        /// The command.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of its output.
        tail: String,
    },
    /// No such version.
    #[error("no data version `{version}` is loaded")]
    UnknownVersion {
        /// What was asked for.
        version: String,
    },
    /// A prefix names more than one version.
    #[error("`{wanted}` names {} data versions ({}); give more of the id", matches.len(), matches.join(", "))]
    Ambiguous {
        /// What was asked for.
        wanted: String,
        /// The versions it names.
        matches: Vec<String>,
    },
    /// Nothing to roll, revert or pull.
    #[error("{0}")]
    Nothing(String),
    /// Another data command holds the lock.
    #[error("another data command is running on `{}` (lock `{}`); try again when it is done", root.display(), lock.display())]
    Busy {
        /// The site root.
        root: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A version id that cannot be one (a fleet load names its id), or
    /// that names other content already loaded under it.
    #[error("`{id}` is not the id of this content (`<time>-<digest>`, not loaded before with other content); nothing was loaded")]
    BadId {
        /// The id given.
        id: String,
    },
    /// A version's files changed on disk since they were loaded.
    #[error(
        "data version `{version}` changed on disk since it was loaded ({detail}); load it again"
    )]
    Tampered {
        /// The version.
        version: String,
        /// What differs.
        detail: String,
    },
}

impl DataError {
    pub(crate) fn io<'a>(
        action: &'static str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> DataError + 'a {
        move |cause| DataError::Io {
            action,
            path: path.to_owned(),
            cause,
        }
    }
}

impl hoist_error::Described for DataError {
    fn kind(&self) -> &'static str {
        match self {
            DataError::Io { cause, .. } => hoist_error::io_kind(cause),
            DataError::Site(inner) => inner.kind(),
            DataError::Ledger(inner) => inner.kind(),
            DataError::Corrupt { .. } => "data-corrupt",
            DataError::Integrity { .. } => "data-integrity",
            DataError::CheckFailed { .. } => "check-failed",
            DataError::UnknownVersion { .. } => "unknown-data-version",
            DataError::Ambiguous { .. } => "ambiguous-data-version",
            DataError::Nothing(_) => "nothing-to-do",
            DataError::Busy { .. } => "lock-held",
            DataError::Tampered { .. } => "data-tampered",
            DataError::BadId { .. } => "bad-data-version-id",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            DataError::Site(inner) => inner.hint(),
            DataError::Ledger(inner) => inner.hint(),
            DataError::UnknownVersion { .. } => hoist_error::command("data list"),
            _ => None,
        }
    }
}
