//! `hoist maint on|off --stage NAME`: maintenance on every host of a stage.

use crate::cli::Global;
use hoist_fleet::MaintChange;

/// `hoist maint on|off --stage NAME`.
pub fn exec(global: &Global, stage: &str, change: MaintChange) -> anyhow::Result<i32> {
    let plan = super::run::plan(global, stage)?;
    super::run::run(global, &plan, |plan, progress| {
        Box::pin(async move { hoist_fleet::maint(plan, &change, progress).await })
    })
}
