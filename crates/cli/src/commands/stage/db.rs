//! `hoist db status --stage NAME`, `hoist db complete --stage NAME` and
//! `hoist db abort --stage NAME`: every host asked over ssh; the contract
//! refused while any host runs a release on the old side, the abort while
//! any runs one on the new side, else run once.

use crate::cli::Global;
use crate::output::{Output, Render};
use hoist_fleet::{HostRun, StageRun};
use serde_json::Value;

/// A `db` stage run, one line per host: what serves there on which side.
struct Report(StageRun<Value>);

impl serde::Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl Render for Report {
    fn human(&self, out: &mut String) {
        let run = &self.0;
        if let Some(open) = run
            .hosts
            .iter()
            .filter_map(|host| host.detail.as_ref())
            .find_map(|detail| detail["expansion"]["open"]["name"].as_str())
        {
            crate::output::field(out, "expansion", open);
        }
        for host in &run.hosts {
            crate::output::field(out, &host.host, line(host));
        }
    }
}

fn line(host: &HostRun<Value>) -> String {
    if let Some(problem) = &host.problem {
        return format!("failed: {problem}");
    }
    let Some(detail) = &host.detail else {
        return host.outcome.to_owned();
    };
    let serving: Vec<String> = detail["expansion"]["serving"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|serving| {
            format!(
                "{} ({}, {} side)",
                serving["release"].as_str().unwrap_or("?"),
                serving["role"].as_str().unwrap_or("?"),
                serving["side"].as_str().unwrap_or("?")
            )
        })
        .collect();
    match (host.outcome, serving.is_empty()) {
        ("completed", _) => {
            let name = detail["finished"]["name"].as_str().unwrap_or("?");
            format!("completed `{name}` here")
        }
        ("aborted", _) => {
            let name = detail["finished"]["name"].as_str().unwrap_or("?");
            format!("removed `{name}` here")
        }
        (_, true) => host.outcome.to_owned(),
        (_, false) => serving.join(", "),
    }
}

pub fn status(global: &Global, stage: &str) -> anyhow::Result<i32> {
    run(global, stage, |plan, progress| {
        Box::pin(hoist_fleet::db_status(plan, progress))
    })
}

pub fn complete(global: &Global, stage: &str, args: hoist_fleet::DbEndArgs) -> anyhow::Result<i32> {
    run(global, stage, move |plan, progress| {
        Box::pin(async move { hoist_fleet::db_complete(plan, progress, &args).await })
    })
}

pub fn abort(global: &Global, stage: &str, args: hoist_fleet::DbEndArgs) -> anyhow::Result<i32> {
    run(global, stage, move |plan, progress| {
        Box::pin(async move { hoist_fleet::db_abort(plan, progress, &args).await })
    })
}

fn run<F>(global: &Global, stage: &str, operation: F) -> anyhow::Result<i32>
where
    F: for<'a> FnOnce(
        &'a hoist_fleet::StagePlan,
        &'a dyn hoist_fleet::Progress,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<StageRun<Value>, hoist_fleet::Failed<Value>>>
                + 'a,
        >,
    >,
{
    let plan = super::named(global, stage)?.target()?;
    let runtime = super::runtime()?;
    let progress =
        crate::fleet_progress::FleetProgress::new(&plan.stage.hosts, global.quiet || global.json);
    let result = runtime.block_on(operation(&plan, &progress));
    drop(progress);
    match result {
        Ok(report) => {
            Output::new(global.json).emit(&Report(report))?;
            Ok(crate::EXIT_OK)
        }
        Err((error, report)) => super::failed(global, error, report.map(Report)),
    }
}
