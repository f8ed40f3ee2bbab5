//! `hoist rollback --stage NAME [--to ID]`: every host back together.

use crate::cli::Global;
use crate::fleet_progress::FleetProgress;
use crate::output::Output;
use hoist_fleet::RollbackPlan;

pub fn exec(
    global: &Global,
    stage: &str,
    to: Option<String>,
    reason: Option<String>,
) -> anyhow::Result<i32> {
    let named = super::named(global, stage)?;
    let plan = RollbackPlan {
        target: named.target()?,
        to,
        reason,
    };
    let runtime = super::runtime()?;
    let interrupted = super::interrupt_flag(&runtime);
    let progress = FleetProgress::new(&named.stage.hosts, global.quiet || global.json);
    let result = runtime.block_on(hoist_fleet::rollback(&plan, interrupted, &progress));
    drop(progress);
    match result {
        Ok(report) => {
            Output::new(global.json).emit(&report)?;
            Ok(crate::EXIT_OK)
        }
        Err((error, report)) => super::failed(global, error, report),
    }
}
