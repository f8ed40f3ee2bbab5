use crate::cli::Global;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist pause --max 30s && ./migrate && hoist resume\n  hoist deploy --pause dist/X.tar.zst"
)]
pub struct PauseArgs {
    /// After this long (at most 365 days), held and new requests get the 503 page instead.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = hoist_config::parse_duration)]
    max: Duration,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {}

pub fn pause(global: &Global, args: PauseArgs) -> anyhow::Result<i32> {
    let paused = crate::target::agent(&crate::target::open(global)?.0)?.pause(args.max)?;
    eprintln!(
        "paused: new requests are held (at most {}); in-flight ones finished in {} ms ({} still running); `hoist resume` releases them",
        crate::output::duration(args.max), paused.drained_ms, paused.in_flight
    );
    Ok(crate::EXIT_OK)
}

pub fn resume(global: &Global, _args: ResumeArgs) -> anyhow::Result<i32> {
    crate::target::agent(&crate::target::open(global)?.0)?.resume()?;
    eprintln!("resumed: held requests go to the app");
    Ok(crate::EXIT_OK)
}
