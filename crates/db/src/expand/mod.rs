//! Expand and contract on PostgreSQL: a schema change both the old and the
//! new release run against at once.
//!
//! A declarative migration (`NNNN_name.toml`, see [`spec`]) is run in two
//! phases, tied to the deploy:
//!
//! - **Expand**, before the new release starts. The base tables keep the
//!   old shape (what the old release, or an app that predates views, sees
//!   through the plain base schema); new values live in hidden columns
//!   ([`hidden_column`]). Triggers keep old and new columns in step both
//!   ways, existing rows are backfilled in short batches, and the new
//!   release gets a schema of updatable views ([`view_schema`]) that shows
//!   the tables as it expects them. It reaches them through `search_path`
//!   (`PGOPTIONS=-c search_path=hoist_<release>,public`).
//! - **Contract**, later and on purpose ([`Expander::complete`]): the old
//!   columns, triggers and view schemas go, hidden columns take their real
//!   names, in one short transaction.
//!
//! Until contract a rollback is a route swap: the old release's columns
//! are in step. [`Expander::abort`] removes an expansion.
//!
//! Every step records where it got to in the database itself, in the same
//! transaction as its DDL (PostgreSQL's DDL is transactional), so running
//! the same call again after a crash resumes where it stopped. Every DDL
//! runs under `lock_timeout` and is retried, so it never queues behind a
//! long query with the site's requests queued behind it.
//!
//! Layout: [`Expander`] (`expander.rs`) takes the migrators' advisory
//! lock, ends what a killed expander left running (`orphans.rs`), and
//! drives the steps (`begin.rs`, `steps.rs`, `finish.rs`) over
//! one connection (`ddl.rs`: transactions, `lock_timeout`, retries). The
//! state row is `state.rs`, the history row `history.rs`. What each step
//! runs is generated, one concept a file, from the change and the
//! catalog (`catalog.rs`): both shapes of each table (`shape.rs`), hidden
//! columns (`columns.rs`), the sync triggers (`triggers.rs`), the batches
//! (`backfill.rs`), constraints and indexes (`constraints.rs`), the
//! indexes of replaced columns kept through contract (`carry.rs`), what
//! would make contract fail (`blockers.rs`, refused at begin), the types
//! and expressions PostgreSQL checks at begin (`verify.rs`), the view
//! schemas (`views.rs`), contract (`contract.rs`) and abort (`abort.rs`).
//! A value the trigger cannot compute on a write is recorded, not raised
//! (`faults.rs`); contract computes those rows again first (`settle.rs`).
//!
//! ```no_run
//! use hoist_db::expand::{ExpandOptions, Expander};
//! let migrations = hoist_db::load("/srv/shop/releases/v2/migrations".as_ref()).unwrap();
//! let migration = migrations.iter().find(|m| m.is_declarative()).unwrap();
//! let mut expander = Expander::connect("postgres://app@db/shop", ExpandOptions::default()).unwrap();
//! let expanded = expander.expand(migration, "v2", &mut |event| println!("{event:?}")).unwrap();
//! // Release v2 runs with PGOPTIONS="-c search_path=hoist_v2,public".
//! assert_eq!(expanded.schema, "hoist_v2");
//! // Later, once no release on the old side serves:
//! expander.complete(&mut |_| {}).unwrap();
//! ```

mod names;
pub mod spec;

pub use names::{hidden_column, view_schema, HIDDEN_PREFIX};
pub use spec::{Change, ForeignKey, NewColumn, Op};

mod abort;
mod backfill;
mod begin;
mod blockers;
mod carry;
mod catalog;
mod columns;
mod constraints;
mod contract;
mod ddl;
mod expander;
mod faults;
mod finish;
mod history;
mod orphans;
mod pace;
mod settle;
mod shape;
mod sqltext;
mod state;
mod steps;
mod triggers;
mod types;
mod verify;
mod views;

pub use expander::{Expander, APPLICATION_NAME};
pub use types::{
    Backfill, ExpandEvent, ExpandOptions, ExpandStatus, ExpandStep, Expanded, Finished,
    OpenExpansion, ViewSchema,
};
