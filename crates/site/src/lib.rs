//! The site: a deploy root on disk and the primitives that change it safely.
//!
//! ```text
//! <root>/
//!   releases/<id>/      read-only release trees (`<id>.partial` while unpacking)
//!   current -> releases/<id>
//!   shared/             persistent files linked into every release
//!   incoming/           artifacts in transit, and each release's own (for `hoist repair`)
//!   data/               versioned data sets
//!   fleet/              releases shipped in by `hoist deploy --stage` (parts, assembled artifact)
//!   ledger.sqlite       who deployed what, when, and how it went
//!   deploy.lock         one deploy at a time
//!   fleet.lock          one fleet operation at a time (`hoist deploy --stage`)
//!   journal.json        the operation in flight, written before each step
//!   state/db-schema/<id> the PostgreSQL search_path of a release's processes
//!   agent.sock          the agent's admin socket
//! ```
//!
//! Every durable write is temp file + fsync + rename + directory fsync
//! ([`durable`]); the switch is a new symlink renamed over `current`
//! ([`Site::switch_to`]), so readers always see one whole release.
//!
//! ```no_run
//! let site = hoist_site::Site::create("/srv/shop".as_ref()).unwrap();
//! site.switch_to("20261122T101500Z-1.4.2-a1b2c3d").unwrap();
//! assert_eq!(site.live().unwrap().as_deref(), Some("20261122T101500Z-1.4.2-a1b2c3d"));
//! ```

mod access;
pub mod command;
mod db_schema;
pub mod durable;
mod error;
mod fleet_lock;
mod identity;
mod journal;
mod layout;
mod lock;
mod lock_owner;
mod op;
mod space;

pub use access::{read_secret, StateAccess};
pub use db_schema::{
    db_schema, forget_db_schema, rebase_db_schemas, write_db_schema, DbSchema, PGOPTIONS_ENV,
    SCHEMA_ENV,
};
pub use error::SiteError;
pub use fleet_lock::FleetLock;
pub use identity::{host_name, user_name};
pub use journal::{fault_at, DataMove, Journal, JournalRecord, FAULT_ENV};
pub use layout::Site;
pub use lock::{DeployLock, LockHolder};
pub use op::{OnCrash, Op, Phase, Step};
pub use space::{free_space, FreeSpace, RESERVE_BYTES};
