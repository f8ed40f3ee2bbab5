//! `hoist deploy --stage NAME [ARTIFACT]`.

use crate::cli::Global;

/// What `hoist deploy --stage` was asked.
#[derive(Debug)]
pub struct Request {
    pub stage: String,
    pub artifact: Option<std::path::PathBuf>,
    pub from_stage: Option<String>,
    pub reason: Option<String>,
    pub allow_fewer_tests: bool,
}

pub fn exec(_global: &Global, request: Request) -> anyhow::Result<i32> {
    anyhow::bail!("fleet deploy of stage `{}` is being built", request.stage)
}
