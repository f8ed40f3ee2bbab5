use std::path::PathBuf;

/// A ledger failure; always names the ledger file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// SQLite refused.
    #[error("ledger `{}`: {source}", path.display())]
    Sqlite {
        /// The ledger file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is damaged (`PRAGMA quick_check` found problems).
    #[error("ledger `{}` is damaged ({problem}); `hoist recover` moves it aside and keeps what can be read", path.display())]
    Damaged {
        /// The ledger file.
        path: PathBuf,
        /// What SQLite's check said first.
        problem: String,
    },
    /// A write could not be made in the ledger, nor set aside for later.
    #[error("ledger `{}` could not take a write ({problem}), and neither could `{}`: {source}", path.display(), pending.display())]
    NotRecorded {
        /// The ledger file.
        path: PathBuf,
        /// Why the ledger refused it.
        problem: String,
        /// The pending file.
        pending: PathBuf,
        /// Why that failed too.
        source: std::io::Error,
    },
}
