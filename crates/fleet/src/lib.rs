//! Drives one operation across every host of a stage (`hoist deploy
//! --stage NAME`): connect over OpenSSH, check each host runs this very
//! hoist, lock every host in a fixed order, ship each host only the files
//! it lacks, stage everywhere in parallel, then switch in health-gated
//! waves behind the balancer, and on any failure roll back every host the
//! operation switched, in reverse order, through the same drain and ready
//! steps.
//!
//! Each host does its part with its own hoist (`hoist fleet ...`,
//! `hoist deploy --only-stage`, `hoist deploy`, `hoist rollback`), so one
//! host's part is exactly a single-host operation: journaled, locked,
//! recoverable, and recorded in that host's ledger with the fleet
//! operation's id.
//!
//! `hoist db complete --stage` ([`db_complete`]) asks every host what it
//! serves on which side of the open expansion and contracts it once, on
//! one host, only when no host runs its old side; a stage deploy whose
//! release brings the next declarative migration settles the open one the
//! same way before its waves, and each host deploys with `--no-contract`.
//!
//! `hoist restart --stage` ([`restart`]) goes through the same waves,
//! drain, health and ready with each host's own `hoist restart`; a
//! failure stops it, with nothing to roll back.
//!
//! Reading a stage changes nothing: [`ask_all`] asks every host's status
//! (a host that cannot answer is a row saying so), [`judge`] finds the
//! stage's release and each host's drift, [`compare`] lines stages up, and
//! [`history`] merges the hosts' ledgers by fleet operation.
//!
//! ```text
//! connect ─ version ─ hold (sorted) ─ ship ─ stage (parallel) ─┬─ wave 1: drain ─ switch ─ health ─ ready ─ watch
//!                                                              ├─ wave 2: ...
//!                                                              └─ failure: roll back switched hosts, reverse order
//! ```

mod at_balancer;
mod balance;
mod connect;
mod data;
mod data_roll;
mod data_send;
mod data_wire;
mod db;
mod deploy;
mod drift;
mod each;
mod error;
mod from_stage;
mod history;
mod hold;
mod host;
mod maint;
mod open;
mod parity;
mod progress;
mod prune;
mod restart;
mod rollback;
mod setup;
mod ship;
mod stages;
mod status;
mod waves;

pub use at_balancer::AtBalancer;
pub use connect::{connect_all, host_build, HoistBuild};
pub use data::{load as data_load, DataLoad, Shipment};
pub use data_roll::{roll as data_roll, DataMove, DataRoll, Pointer};
pub use data_wire::{pack as pack_data, unpack as unpack_data};
pub use db::{
    abort as db_abort, complete as db_complete, status as db_status, EndArgs as DbEndArgs,
    Serving as HostServing,
};
pub use deploy::{deploy, new_op_id, DeployPlan, FleetReport, HostReport};
pub use drift::{judge, Drift, HostStatus, Runs, StageStatus};
pub use each::{Failed, HostRun, Partial, StagePlan, StageRun};
pub use error::{FleetError, RemoteError};
pub use from_stage::{running, Running};
pub use history::{
    history, merge, Entry, FleetEntry, FleetHost, HostEntry, Row, StageHistory, Unanswered,
};
pub use host::{Host, Reach};
pub use maint::{maint, MaintChange, MaintOn};
pub use open::Target;
pub use parity::{fingerprints as parity_fingerprints, reference as parity_reference, ParityGate};
pub use progress::{Progress, Quiet};
pub use prune::prune;
pub use restart::{restart, RestartPlan};
pub use rollback::{rollback, RollbackPlan};
pub use setup::{setup, SetUp};
pub use ship::{ship, Shipped};
pub use stages::{compare, Difference, Side, StageLine, StagesView};
pub use status::{ask_all, Agent, HostAnswer, HostState, Schema, Serving};
pub use waves::HostOutcome;
