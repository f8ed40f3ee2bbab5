//! The deploy lifecycle on one host, without an agent ("external" mode):
//! the release goes live by switching `current` and running the app's own
//! restart command.
//!
//! | operation | entry point |
//! |---|---|
//! | deploy an artifact | [`deploy()`] |
//! | roll back one step or to a release | [`rollback()`] |
//! | move the live data version | [`data_roll()`] |
//! | remove old releases | [`prune()`] |
//! | restore a release's files from its artifact | [`repair()`] |
//! | contract or remove the open expansion (PostgreSQL) | [`db_end()`] ([`End::Complete`], [`End::Abort`]) |
//! | finish or undo a killed operation | [`recover()`] |
//! | read state | [`status()`], [`releases()`], [`verify_release`] |
//!
//! Every mutating operation takes the site lock, journals each step before
//! doing it (so `recover` knows where a crash happened) and records its
//! outcome in the ledger. Anything that fails before the switch leaves the
//! live release untouched; a failed restart or health check after the
//! switch switches back.
//!
//! Every config an operation uses comes from [`Context::config_for`], which
//! lays the site's own host settings (`<root>/site.toml`, written by the
//! first deploy) over the given or shipped `hoist.toml`; `$NAME` values are
//! expanded at use by [`Context::resolve`].
//!
//! ```no_run
//! use hoist_deploy::{deploy, Context, DeployRequest, Silent};
//! let context = Context::create("/srv/shop".as_ref()).unwrap();
//! let request = DeployRequest { artifact: "dist/x.tar.zst".into(), config: None, reason: None, hold: false, pause: None, with_data: None, stage_only: false, notes: None, no_contract: false };
//! let report = deploy(&context, &request, &Silent).unwrap();
//! println!("{} is live", report.release);
//! ```

mod activate;
mod attempt;
mod back_health;
mod command;
mod context;
mod contract;
mod data_roll;
mod data_tie;
mod deploy;
mod emergency;
mod engine;
mod error;
mod expansion;
mod expansion_abort;
mod health;
mod hooks;
mod isolate;
mod listeners;
mod notice;
mod overlay_upper;
mod parity;
mod place;
mod proof;
mod prune;
mod records;
mod recover;
mod recover_hook;
mod recover_schema;
mod repair;
mod reporter;
mod restart;
mod rollback;
mod rollback_expand;
mod schema;
mod schema_record;
mod shared;
mod shipped;
mod site_settings;
mod smoke;
mod stage;
mod status;
mod switch;
mod test_count;
mod tree;
mod verify;

pub use attempt::Attempt;
pub use context::{AgentLink, Context};
pub use contract::{
    db_end, expansion, running, sides, ContractError, Contracted, End, Expansion, Role, Running,
    Serving, Side,
};
pub use data_roll::{data_roll, DataRollReport, DataRollRequest};
pub use data_tie::RollbackData;
pub use deploy::{deploy, DeployReport, DeployRequest};
pub use error::DeployError;
pub use expansion::{ExpandAction, ExpandReport};
pub use health::probe as probe_health;
pub use hooks::HookRun;
pub use isolate::{enter as enter_isolation, SUBCOMMAND as ISOLATED_CHECK};
pub use parity::fingerprint;
pub use prune::{prune, PruneReport};
pub use recover::{recover, RecoverReport};
pub use repair::{repair, RepairReport, RepairRequest};
pub use reporter::{Reporter, Silent};
pub use restart::{abort, restart, RestartReport};
pub use rollback::{
    auto_rollback, promote, rollback, RollbackReport, RollbackRequest, DEFAULT_PAUSE,
};
pub use rollback_expand::Restore;
pub use schema::{
    backup_dir, db_backup, db_diff, db_migrate, db_repair, db_restore, db_rollback, db_status,
    predated_by, schema_summary, BackupReport, Schema, SchemaDiff, SchemaSummary,
};
pub use shipped::{Damaged, PutBack};
pub use site_settings::resolve;
pub use status::{previous_release, releases, status, ReleaseInfo, Status};
pub use verify::verify_release;
