use crate::cli::Global;
use hoist_ledger::{Event, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Why, for the ledger.
    #[arg(long, required = true)]
    reason: String,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open(global)?;
    let stale = hoist_site::DeployLock::clear_stale(&context.site)?;
    let detail = match &stale {
        Some(holder) => format!("cleared a lock left by {holder}"),
        None => "the lock was already free".to_owned(),
    };
    let now = jiff::Timestamp::now();
    context.ledger.record(&Event {
        op_id: format!("{}-{}", now.as_nanosecond(), std::process::id()),
        op: "unlock".into(),
        release: None,
        from: None,
        to: context.site.live()?,
        outcome: Outcome::Ok,
        reason: Some(args.reason),
        detail: Some(detail.clone()),
        user: hoist_site::user_name(),
        host: hoist_site::host_name(),
        started_at: now,
        finished_at: now,
        duration_ms: 0,
    })?;
    eprintln!("{detail}");
    Ok(crate::EXIT_OK)
}
