//! `hoist rollback --stage NAME [--to ID]`: every host back together.

use crate::cli::Global;
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
    let (runtime, interrupted, progress) = super::driver(global, &named.stage.hosts)?;
    let result = runtime.block_on(hoist_fleet::rollback(&plan, interrupted, &progress));
    drop(progress);
    super::finish(global, result)
}
