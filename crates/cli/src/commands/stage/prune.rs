//! `hoist prune --stage NAME`: every host of a stage prunes its releases.

use crate::cli::Global;

/// `hoist prune --stage NAME [--keep N]`.
pub fn exec(global: &Global, stage: &str, keep: Option<usize>) -> anyhow::Result<i32> {
    let plan = super::run::plan(global, stage)?;
    super::run::run(global, &plan, |plan, progress| {
        Box::pin(async move { hoist_fleet::prune(plan, keep, progress).await })
    })
}
