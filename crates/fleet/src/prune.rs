//! `hoist prune --stage NAME`: every host of a stage prunes its old
//! releases (never its live, previous or last known-good one), as WormBase
//! purges old builds on every node. A prune is not undone: the hosts that
//! pruned stay pruned, and the error names the ones that did not.

use crate::each::{Failed, HostRun, Partial, StagePlan, StageRun};
use crate::Progress;
use serde_json::Value;

/// Prunes every host, keeping `keep` releases (default: each host's own
/// `deploy.keep_releases`).
pub async fn prune(
    plan: &StagePlan,
    keep: Option<usize>,
    progress: &dyn Progress,
) -> Result<StageRun<Value>, Failed<Value>> {
    let started = std::time::Instant::now();
    let what = format!("prune on stage `{}`", plan.stage_name);
    let opened = plan.open(&what, progress).await.map_err(|e| (e, None))?;
    let mut report = StageRun::new(plan, &opened.op, "prune".to_owned());
    let keep = keep.map(|keep| keep.to_string());
    let mut args = vec!["prune"];
    if let Some(keep) = &keep {
        args.extend(["--keep", keep]);
    }
    let results = plan
        .each(&opened.hosts, |_, host| {
            progress.host(&host.name, "prune", "old releases");
            host.run::<Value>(&args)
        })
        .await;
    for (host, result) in opened.hosts.iter().zip(results) {
        report.hosts.push(match result {
            Ok(answer) => {
                progress.host(&host.name, "done", "pruned");
                HostRun::done(host, "done", answer)
            }
            Err(error) => {
                progress.host(&host.name, "failed", &error.to_string());
                HostRun::failed(host, &error)
            }
        });
    }
    opened.close().await;
    report.duration_ms = started.elapsed().as_millis() as u64;
    let failures = report.failures();
    if failures.is_empty() {
        return Ok(report);
    }
    report.outcome = "failed";
    let error = Partial::error(
        "prune".to_owned(),
        failures,
        "the other hosts were pruned",
        &plan.stage_name,
    );
    Err((error, Some(report)))
}
