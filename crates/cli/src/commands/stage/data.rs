//! `hoist data load|roll|revert --stage NAME`: one data version on every
//! host of a stage under one id, then made live on all of them together.

use crate::cli::Global;
use hoist_fleet::{DataLoad, DataMove, DataRoll};

/// `hoist data load --stage NAME SRC`.
pub fn load(global: &Global, stage: &str, request: DataLoad) -> anyhow::Result<i32> {
    let plan = super::run::plan(global, stage)?;
    super::run::run(global, &plan, |plan, progress| {
        Box::pin(async move { hoist_fleet::data_load(plan, &request, progress).await })
    })
}

/// `hoist data roll|revert --stage NAME`.
pub fn roll(global: &Global, stage: &str, request: DataRoll) -> anyhow::Result<i32> {
    let plan = super::run::plan(global, stage)?;
    super::run::run(global, &plan, |plan, progress| {
        Box::pin(async move { hoist_fleet::data_roll(plan, &request, progress).await })
    })
}

/// Which way a `data roll|revert` goes.
pub fn how(revert: bool) -> DataMove {
    if revert {
        DataMove::Revert
    } else {
        DataMove::Roll
    }
}
