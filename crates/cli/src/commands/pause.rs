use crate::cli::Global;
use anyhow::Context as _;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist pause --max 30s && ./migrate && hoist resume\n  hoist deploy --pause dist/X.tar.zst"
)]
pub struct PauseArgs {
    /// After this long, held and new requests get the 503 page instead.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    max: String,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {}

/// Parses `--max` like config durations (`30s`, `2m`).
pub fn parse_max(text: &str) -> anyhow::Result<Duration> {
    let signed: jiff::SignedDuration = text
        .parse()
        .with_context(|| format!("`{text}` is not a duration like 30s"))?;
    Duration::try_from(signed).with_context(|| format!("`{text}` must not be negative"))
}

pub fn pause(global: &Global, args: PauseArgs) -> anyhow::Result<i32> {
    let max = parse_max(&args.max)?;
    let paused = crate::target::agent(&crate::target::open(global)?.0)?.pause(max)?;
    eprintln!(
        "paused: new requests are held (at most {}); in-flight ones finished in {} ms ({} still running); `hoist resume` releases them",
        args.max, paused.drained_ms, paused.in_flight
    );
    Ok(crate::EXIT_OK)
}

pub fn resume(global: &Global, _args: ResumeArgs) -> anyhow::Result<i32> {
    crate::target::agent(&crate::target::open(global)?.0)?.resume()?;
    eprintln!("resumed: held requests go to the app");
    Ok(crate::EXIT_OK)
}
