//! What the stage-wide `data`, `maint` and `prune` share on this side: the
//! plan from `[stages.NAME]`, and the report, one line per host.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_fleet::{Failed, Pointer, Shipment, StagePlan, StageRun};
use serde::Serialize;
use serde_json::Value;

/// The plan for stage `name`: its hosts, how they are reached, and who acts.
pub fn plan(global: &Global, name: &str) -> anyhow::Result<StagePlan> {
    super::named(global, name)?.target()
}

/// Runs a stage-wide operation with one bar (or line) per host, and prints
/// its report: exit 0 when every host did its part.
pub fn run<T, F>(global: &Global, plan: &StagePlan, operation: F) -> anyhow::Result<i32>
where
    T: Serialize + Detail,
    F: for<'a> FnOnce(
        &'a StagePlan,
        &'a dyn hoist_fleet::Progress,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<StageRun<T>, Failed<T>>> + 'a>,
    >,
{
    let runtime = super::runtime()?;
    let progress =
        crate::fleet_progress::FleetProgress::new(&plan.stage.hosts, global.quiet || global.json);
    let result = runtime.block_on(operation(plan, &progress));
    drop(progress);
    match result {
        Ok(report) => {
            Output::new(global.json).emit(&report)?;
            Ok(crate::EXIT_OK)
        }
        Err((error, report)) => super::failed(global, error, report),
    }
}

/// One host's detail in a line.
pub trait Detail {
    /// `sent 1.2 MB`, `data A -> B`, `removed X, Y`.
    fn line(&self) -> String;
}

impl Detail for Shipment {
    fn line(&self) -> String {
        match self.how {
            "sent" => format!("sent {}", output::bytes(self.bytes_sent)),
            "copied" => "copied its own copy, nothing sent".to_owned(),
            _ => "had it, nothing sent".to_owned(),
        }
    }
}

impl Detail for Pointer {
    fn line(&self) -> String {
        format!(
            "data {} -> {}",
            self.from.as_deref().unwrap_or("-"),
            self.live.as_deref().unwrap_or("?")
        )
    }
}

impl Detail for Value {
    fn line(&self) -> String {
        match self["removed"].as_array() {
            Some(removed) if removed.is_empty() => "removed nothing".to_owned(),
            Some(removed) => {
                let names: Vec<&str> = removed.iter().filter_map(Value::as_str).collect();
                format!("removed {}", names.join(", "))
            }
            None => String::new(),
        }
    }
}

impl<T: Serialize + Detail> Render for StageRun<T> {
    fn human(&self, out: &mut String) {
        output::field(out, "stage", &self.stage);
        output::field(out, "action", &self.action);
        if let Some(version) = &self.version {
            output::field(out, "version", version);
        }
        output::field(out, "outcome", self.outcome);
        output::field(out, "fleet op", &self.fleet_op);
        for host in &self.hosts {
            let mut line = host.outcome.to_owned();
            if let Some(detail) = host.detail.as_ref().map(Detail::line) {
                if !detail.is_empty() {
                    line.push_str(&format!(" ({detail})"));
                }
            }
            if let Some(problem) = &host.problem {
                line.push_str(&format!(": {problem}"));
            }
            output::field(out, &host.host, line);
        }
        output::field(out, "took", format!("{} ms", self.duration_ms));
    }
}
