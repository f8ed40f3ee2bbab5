//! The ledger: a SQLite file in the site root that answers "who deployed
//! what, where, when, and how did it go".
//!
//! Two tables: `events` (append-only: every deploy, rollback, prune, recover
//! and unlock, keyed by the journal's `op_id` so a recovered operation is
//! never recorded twice) and `releases` (one row per release ever unpacked,
//! with its lifecycle state).
//!
//! ```no_run
//! let ledger = hoist_ledger::Ledger::open("/srv/shop/ledger.sqlite".as_ref()).unwrap();
//! for event in ledger.events(10).unwrap() {
//!     println!("{} {} {:?}", event.op, event.outcome, event.release);
//! }
//! ```

mod error;
mod events;
mod releases;
mod schema;

pub use error::LedgerError;
pub use events::{Event, Outcome};
pub use releases::{ReleaseRow, ReleaseState, Switch};

use std::path::{Path, PathBuf};

/// An open ledger.
#[derive(Debug)]
pub struct Ledger {
    conn: rusqlite::Connection,
    path: PathBuf,
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path` and migrates its schema.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let wrap = |source| LedgerError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = rusqlite::Connection::open(path).map_err(wrap)?;
        // FULL sync: a recorded deploy must survive a power cut like the switch it records.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )
        .map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        let ledger = Ledger {
            conn,
            path: path.to_owned(),
        };
        schema::migrate(&ledger.conn).map_err(wrap)?;
        Ok(ledger)
    }

    fn wrap(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        |source| LedgerError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}
