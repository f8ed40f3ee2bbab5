use std::path::{Path, PathBuf};

/// A ledger failure; always names the ledger file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// SQLite refused.
    #[error("ledger `{}`: {cause}", path.display())]
    Sqlite {
        /// The ledger file.
        path: PathBuf,
        /// SQLite's error.
        cause: rusqlite::Error,
    },
    /// The file cannot be opened or read by this user.
    #[error("cannot read the ledger `{}` ({problem}); read commands need read access to the site: run them as root, or as a member of the site's group (README, \"Security model\")", path.display())]
    Unreadable {
        /// The ledger file.
        path: PathBuf,
        /// What SQLite said.
        problem: String,
    },
    /// The file is damaged (`PRAGMA quick_check` found problems).
    #[error("ledger `{}` is damaged ({problem}); recovering moves it aside and keeps what can be read", path.display())]
    Damaged {
        /// The ledger file.
        path: PathBuf,
        /// What SQLite's check said first.
        problem: String,
    },
    /// A write could not be made in the ledger, nor set aside for later.
    #[error("ledger `{}` could not take a write ({problem}), and neither could `{}`: {cause}", path.display(), pending.display())]
    NotRecorded {
        /// The ledger file.
        path: PathBuf,
        /// Why the ledger refused it.
        problem: String,
        /// The pending file.
        pending: PathBuf,
        /// Why that failed too.
        cause: std::io::Error,
    },
}

impl LedgerError {
    /// Names what a person can do about `source`: a damaged file (`hoist
    /// recover`), a file this user may not read (the site's group), or else
    /// SQLite's own words.
    pub(crate) fn classify(path: &Path, source: rusqlite::Error) -> LedgerError {
        use rusqlite::ErrorCode;
        let code = source.sqlite_error_code();
        let problem = || {
            source
                .sqlite_error()
                .and_then(|_| match &source {
                    rusqlite::Error::SqliteFailure(_, Some(message)) => Some(message.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| source.to_string())
        };
        match code {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => LedgerError::Damaged {
                path: path.to_owned(),
                problem: problem(),
            },
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => LedgerError::Unreadable {
                path: path.to_owned(),
                problem: problem(),
            },
            _ => LedgerError::Sqlite {
                path: path.to_owned(),
                cause: source,
            },
        }
    }
}

impl hoist_error::Described for LedgerError {
    fn kind(&self) -> &'static str {
        match self {
            LedgerError::Sqlite { .. } => "ledger-error",
            LedgerError::Unreadable { .. } => "ledger-unreadable",
            LedgerError::Damaged { .. } => "ledger-damaged",
            LedgerError::NotRecorded { .. } => "ledger-unwritable",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            LedgerError::Damaged { .. } => hoist_error::command("recover"),
            _ => None,
        }
    }
}
