//! `hoist restart --stage NAME`: every host's live release started
//! afresh, host by host behind the balancer.

use crate::cli::Global;
use hoist_fleet::RestartPlan;

pub fn exec(global: &Global, stage: &str, reason: Option<String>) -> anyhow::Result<i32> {
    let named = super::named(global, stage)?;
    let plan = RestartPlan {
        target: named.target()?,
        reason,
    };
    let (runtime, interrupted, progress) = super::driver(global, &named.stage.hosts)?;
    let result = runtime.block_on(hoist_fleet::restart(&plan, interrupted, &progress));
    drop(progress);
    super::finish(global, result)
}
