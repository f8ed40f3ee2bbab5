use crate::cli::Global;
use hoist_ledger::Event;

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
    context.ledger.record(&Event {
        to: context.site.live()?,
        reason: Some(args.reason),
        detail: Some(detail.clone()),
        ..Event::one_off("unlock", hoist_site::user_name(), hoist_site::host_name())
    })?;
    eprintln!("{detail}");
    let result = serde_json::json!({ "cleared": stale.is_some(), "detail": detail });
    crate::output::json_result(global.json, &result)?;
    Ok(crate::EXIT_OK)
}
