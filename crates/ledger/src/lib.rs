//! The ledger: a SQLite file in the site root that answers "who deployed
//! what, where, when, and how did it go".
//!
//! Two tables: `events` (append-only: every operation, including the
//! failed and refused ones, with the release it started from and the one
//! it aimed at, keyed by the journal's `op_id` so a recovered operation is
//! never recorded twice; a switch also notes the data version live with
//! it) and `releases` (one row per release ever unpacked, with its
//! lifecycle state).
//!
//! Opening: [`Ledger::open`] for commands that write (it creates and
//! migrates the file, and replays writes deferred while it could not be
//! written), [`Ledger::open_read_only`] for commands that only read (no
//! file is created or changed, so they work for any user who can read the
//! site and on a full disk). The rollback journal is SQLite's `DELETE`
//! mode, not WAL: WAL readers need a `-shm` file they may not be able to
//! create.
//!
//! When a write cannot be made (a damaged file, a full disk),
//! [`Ledger::write_or_defer`] appends it to `ledger-pending.jsonl` beside
//! the ledger instead, so an emergency rollback never depends on the
//! ledger ([`pending`]); [`salvage`] moves a damaged ledger aside and keeps
//! what can still be read.
//!
//! ```no_run
//! let ledger = hoist_ledger::Ledger::open("/srv/shop/ledger.sqlite".as_ref()).unwrap();
//! for event in ledger.events(10).unwrap() {
//!     println!("{} {} {:?}", event.op, event.outcome, event.release);
//! }
//! ```

mod data_tie;
mod error;
mod events;
mod outcome;
pub mod pending;
mod releases;
pub mod salvage;
mod schema;

pub use error::LedgerError;
pub use events::Event;
pub use outcome::Outcome;
pub use pending::{Write, Written};
pub use releases::{ReleaseRow, ReleaseState, Switch};

use rusqlite::OpenFlags;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a writer waits for another one (the agent records too).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open ledger.
#[derive(Debug)]
pub struct Ledger {
    conn: rusqlite::Connection,
    path: PathBuf,
    /// Set for a command run as one host's part of a fleet operation:
    /// every event it records carries this id ([`Ledger::set_fleet_op`]).
    fleet_op: Option<String>,
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path` for writing, migrates
    /// its schema, and replays writes deferred while it could not be written.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let ledger = Ledger::open_without_replay(path)?;
        // A ledger that still cannot take them keeps them pending: not an error here.
        let _ = ledger.replay_pending();
        Ok(ledger)
    }

    fn open_without_replay(path: &Path) -> Result<Ledger, LedgerError> {
        let wrap = |source| LedgerError::classify(path, source);
        let conn = rusqlite::Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(wrap)?;
        // FULL sync: a recorded deploy must survive a power cut like the
        // switch it records. DELETE, not WAL: see the crate docs.
        conn.execute_batch(
            "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )
        .map_err(wrap)?;
        let ledger = Ledger {
            conn,
            path: path.to_owned(),
            fleet_op: None,
        };
        schema::migrate(&ledger.conn).map_err(wrap)?;
        Ok(ledger)
    }

    /// Opens the ledger at `path` for reading only: nothing is created,
    /// migrated or replayed. A site without a ledger yet reads as empty.
    pub fn open_read_only(path: &Path) -> Result<Ledger, LedgerError> {
        let wrap = |source| LedgerError::classify(path, source);
        if !path.exists() {
            let conn = rusqlite::Connection::open_in_memory().map_err(wrap)?;
            schema::migrate(&conn).map_err(wrap)?;
            return Ok(Ledger {
                conn,
                path: path.to_owned(),
                fleet_op: None,
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(wrap)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(wrap)?;
        let readable = conn
            .pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))
            .is_ok();
        let conn = if readable {
            conn
        } else {
            // A ledger left in WAL mode by an older hoist needs a `-shm` file
            // a reader may not be allowed to create; read the main file as is.
            let uri = format!("file:{}?immutable=1", path.display());
            rusqlite::Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                .map_err(wrap)?
        };
        Ok(Ledger {
            conn,
            path: path.to_owned(),
            fleet_op: None,
        })
    }

    /// A stand-in for a ledger that cannot be opened at all: it reads as
    /// empty and refuses every write, so writes go to the pending file
    /// beside `path` ([`Ledger::write_or_defer`]) rather than being lost.
    pub fn unavailable(path: &Path) -> Ledger {
        let conn = rusqlite::Connection::open_in_memory().expect("an in-memory database opens");
        schema::migrate(&conn).expect("the schema applies to an empty database");
        conn.execute_batch("PRAGMA query_only = ON;")
            .expect("query_only is a valid pragma");
        Ledger {
            conn,
            path: path.to_owned(),
            fleet_op: None,
        }
    }

    /// Tags every event recorded from now on with the fleet operation
    /// `op` (one host's part of `hoist deploy --stage`), so the hosts'
    /// ledgers can be merged by it. An event that names its own keeps it.
    pub fn set_fleet_op(&mut self, op: Option<String>) {
        self.fleet_op = op;
    }

    /// `event` with this ledger's fleet operation filled in.
    pub(crate) fn tagged<'a>(&self, event: &'a Event) -> std::borrow::Cow<'a, Event> {
        match (&self.fleet_op, &event.fleet_op) {
            (Some(op), None) => std::borrow::Cow::Owned(Event {
                fleet_op: Some(op.clone()),
                ..event.clone()
            }),
            _ => std::borrow::Cow::Borrowed(event),
        }
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Errors unless the ledger is intact and can take a write right now: a
    /// deploy asks before it switches, so that it never switches and then
    /// cannot say so.
    pub fn check_writable(&self) -> Result<(), LedgerError> {
        let wrap = self.wrap();
        let verdict: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(&wrap)?;
        if verdict != "ok" {
            return Err(LedgerError::Damaged {
                path: self.path.clone(),
                problem: verdict,
            });
        }
        // A real write (pages, the rollback journal on disk), then undone.
        let tx = self.conn.unchecked_transaction().map_err(&wrap)?;
        tx.execute(
            "INSERT INTO events (op_id, op, outcome, user, host, started_at, finished_at, duration_ms)
             VALUES ('hoist-write-probe', 'probe', 'noop', '', '', '', '', 0)",
            [],
        )
        .map_err(&wrap)?;
        tx.rollback().map_err(wrap)
    }

    fn wrap(&self) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
        |source| LedgerError::classify(&self.path, source)
    }
}
