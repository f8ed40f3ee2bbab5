//! `hoist deploy --stage NAME [ARTIFACT]`: one artifact to every host of a
//! stage, staged everywhere, then switched in waves behind the balancer.

use crate::cli::Global;
use crate::output::{self, Render};
use hoist_fleet::{DeployPlan, FleetReport};
use std::path::PathBuf;

/// What `hoist deploy --stage` was asked.
#[derive(Debug)]
pub struct Request {
    pub stage: String,
    pub artifact: Option<PathBuf>,
    pub from_stage: Option<String>,
    pub reason: Option<String>,
    pub allow_fewer_tests: bool,
}

impl Render for FleetReport {
    fn human(&self, out: &mut String) {
        output::field(out, "stage", &self.stage);
        output::field(out, "release", &self.release);
        output::field(out, "outcome", self.outcome);
        output::field(out, "fleet op", &self.fleet_op);
        for host in &self.hosts {
            let shipped = host.shipped.as_ref().map_or_else(String::new, |shipped| {
                format!(
                    ", sent {} of {} files ({})",
                    shipped.files_sent,
                    shipped.files_total,
                    output::bytes(shipped.bytes_sent)
                )
            });
            let problem = host
                .outcome
                .problem
                .as_ref()
                .map_or_else(String::new, |problem| format!(": {problem}"));
            output::field(
                out,
                &host.outcome.host,
                format!(
                    "{} (live {}{shipped}){problem}",
                    host.outcome.outcome,
                    host.outcome.live.as_deref().unwrap_or("-")
                ),
            );
        }
        output::field(out, "took", format!("{} ms", self.duration_ms));
    }
}

pub fn exec(global: &Global, request: Request) -> anyhow::Result<i32> {
    let named = super::named(global, &request.stage)?;
    let (artifact, parity) = match (&request.artifact, &request.from_stage) {
        (given, Some(from)) => {
            super::from_stage::artifact_of(global, from, given.as_deref(), &named)?
        }
        (Some(artifact), None) => (artifact.clone(), None),
        (None, None) => {
            let built = super::super::build::build(
                &named.config,
                &named.base,
                &named.base.join("dist"),
                global.quiet,
            )?;
            (built.artifact, None)
        }
    };
    let plan = DeployPlan {
        target: named.target()?,
        artifact,
        reason: request.reason,
        allow_fewer_tests: request.allow_fewer_tests,
        parity,
    };
    let (runtime, interrupted, progress) = super::driver(global, &named.stage.hosts)?;
    let result = runtime.block_on(hoist_fleet::deploy(&plan, interrupted, &progress));
    drop(progress);
    super::finish(global, result)
}
