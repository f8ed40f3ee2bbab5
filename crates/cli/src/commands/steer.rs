//! `hoist canary`, `hoist promote`, `hoist abort`: steering a held candidate.

use crate::cli::Global;
use crate::output::{self, Render};
use crate::progress::Progress;
use hoist_site::Op;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist deploy --hold --test-from 10.1.0.0/16 dist/X.tar.zst\n  hoist canary --percent 10\n  hoist promote"
)]
pub struct CanaryArgs {
    /// Share of clients (sticky, by cookie or client address) sent to the held candidate.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    percent: u8,
}

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// Why, for the ledger.
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct AbortArgs {
    /// Why, for the ledger.
    #[arg(long)]
    reason: Option<String>,
}

pub fn canary(global: &Global, args: CanaryArgs) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open(global)?;
    let candidate = crate::target::agent(&context)?.canary(args.percent)?;
    let detail = format!(
        "{}% of clients to `{}`",
        candidate.percent, candidate.release
    );
    let held = Some(candidate.release.clone());
    crate::target::record_traffic_on(&context, "canary", held, detail);
    eprintln!("{}% of clients now reach `{}`; watch `hoist status`, then `hoist promote` or `hoist abort`", candidate.percent, candidate.release);
    crate::output::json_result(global.json, &serde_json::json!({ "candidate": candidate }))?;
    Ok(crate::EXIT_OK)
}

pub fn promote(global: &Global, args: PromoteArgs) -> anyhow::Result<i32> {
    let (mut context, _) = crate::target::open(global)?;
    let attempt = hoist_deploy::Attempt::new(&context, Op::Promote, None, args.reason.clone());
    let progress = Progress::new(global.quiet || global.json);
    let candidate = crate::target::agent(&context)
        .and_then(|agent| Ok(agent.status()?))
        .and_then(|status| {
            status.candidate.ok_or_else(|| {
                crate::Failure::new("no-candidate", "no candidate is held to promote")
                    .hint("hoist deploy --hold ARTIFACT")
                    .into()
            })
        });
    let candidate = candidate.inspect_err(|error| {
        attempt.refused(&context, &format!("{error:#}"), &progress);
    })?;
    crate::target::attach_agent(&mut context);
    let report = hoist_deploy::promote(&context, &candidate.release, args.reason, &progress)?;
    let promoted = Promoted {
        candidate: candidate.release,
        report,
    };
    crate::output::Output::new(global.json).emit(&promoted)?;
    Ok(crate::EXIT_OK)
}

/// What `hoist promote` did: the candidate it made live, then the switch.
#[derive(Debug, serde::Serialize)]
struct Promoted {
    /// The held candidate, now live.
    candidate: String,
    #[serde(flatten)]
    report: hoist_deploy::RollbackReport,
}

impl Render for Promoted {
    fn human(&self, out: &mut String) {
        output::field(out, "promoted", &self.candidate);
        self.report.human(out);
    }
}

pub fn abort(global: &Global, args: AbortArgs) -> anyhow::Result<i32> {
    let (mut context, _) = crate::target::open(global)?;
    let status = crate::target::agent(&context)?.status()?;
    let Some(candidate) = status.candidate else {
        let attempt = hoist_deploy::Attempt::new(&context, Op::Abort, None, args.reason);
        let progress = Progress::new(global.quiet || global.json);
        attempt.noop(
            &context,
            "no candidate was held; nothing to stop",
            &progress,
        );
        eprintln!("no candidate was held");
        crate::output::json_result(global.json, &serde_json::json!({ "aborted": null }))?;
        return Ok(crate::EXIT_OK);
    };
    crate::target::attach_agent(&mut context);
    let progress = Progress::new(global.quiet || global.json);
    let aborted = hoist_deploy::abort(&context, &candidate.release, args.reason, &progress)?;
    match &aborted {
        Some(release) => {
            eprintln!("stopped the candidate `{release}`; everyone stays on the live release")
        }
        None => eprintln!("no candidate was held"),
    }
    crate::output::json_result(global.json, &serde_json::json!({ "aborted": aborted }))?;
    Ok(crate::EXIT_OK)
}
