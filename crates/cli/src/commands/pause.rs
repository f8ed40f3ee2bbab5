use crate::cli::Global;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist pause --max 30s && ./migrate && hoist resume\n  hoist deploy --pause dist/X.tar.zst"
)]
pub struct PauseArgs {
    /// After this long (at most 365 days), held and new requests get the 503 page instead.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_max)]
    max: Duration,
}

/// `--max`: a duration of at least a second. A pause that has already run
/// out answers every request with 503, so `0s` would be an outage, not a pause.
pub fn parse_max(text: &str) -> Result<Duration, String> {
    let max = hoist_config::parse_duration(text).map_err(|error| error.to_string())?;
    if max < Duration::from_secs(1) {
        return Err(format!(
            "`{text}` is under a second; past `--max` every request gets 503, so give at least 1s"
        ));
    }
    Ok(max)
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {}

pub fn pause(global: &Global, args: PauseArgs) -> anyhow::Result<i32> {
    let context = crate::target::open(global)?.0;
    let paused = crate::target::agent(&context)?.pause(args.max)?;
    let max = crate::output::duration(args.max);
    crate::target::record_traffic(
        &context,
        "pause",
        format!("new requests held, at most {max}"),
    );
    eprintln!(
        "paused: new requests are held (at most {}); in-flight ones finished in {} ms ({} still running); `hoist resume` releases them",
        crate::output::duration(args.max), paused.drained_ms, paused.in_flight
    );
    let result = serde_json::json!({
        "paused": true,
        "max_ms": args.max.as_millis() as u64,
        "drained_ms": paused.drained_ms,
        "in_flight": paused.in_flight,
    });
    crate::output::json_result(global.json, &result)?;
    Ok(crate::EXIT_OK)
}

pub fn resume(global: &Global, _args: ResumeArgs) -> anyhow::Result<i32> {
    let context = crate::target::open(global)?.0;
    crate::target::agent(&context)?.resume()?;
    crate::target::record_traffic(&context, "resume", "held requests released".into());
    eprintln!("resumed: held requests go to the app");
    crate::output::json_result(global.json, &serde_json::json!({ "resumed": true }))?;
    Ok(crate::EXIT_OK)
}
