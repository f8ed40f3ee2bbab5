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
//! ```text
//! connect ─ version ─ hold (sorted) ─ ship ─ stage (parallel) ─┬─ wave 1: drain ─ switch ─ health ─ ready ─ watch
//!                                                              ├─ wave 2: ...
//!                                                              └─ failure: roll back switched hosts, reverse order
//! ```

mod balance;
mod connect;
mod data;
mod data_roll;
mod data_send;
mod data_wire;
mod deploy;
mod each;
mod error;
mod from_stage;
mod hold;
mod host;
mod maint;
mod progress;
mod prune;
mod setup;
mod ship;
mod waves;

pub use connect::{connect_all, host_build, HoistBuild};
pub use data::{load as data_load, DataLoad, Shipment};
pub use data_roll::{roll as data_roll, DataMove, DataRoll, Pointer};
pub use data_wire::{pack as pack_data, unpack as unpack_data};
pub use deploy::{deploy, new_op_id, DeployPlan, FleetReport, HostReport};
pub use each::{Failed, HostRun, Partial, StagePlan, StageRun};
pub use error::{FleetError, RemoteError};
pub use from_stage::{running, Running};
pub use host::{Host, Reach};
pub use maint::{maint, MaintChange, MaintOn};
pub use progress::{Progress, Quiet};
pub use prune::prune;
pub use setup::{setup, SetUp};
pub use ship::Shipped;
pub use waves::HostOutcome;
