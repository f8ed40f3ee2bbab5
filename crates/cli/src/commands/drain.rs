//! `hoist drain BACKEND` / `hoist undrain BACKEND`: one static backend out of
//! (and back into) rotation, e.g. before maintaining that host.

use crate::cli::Global;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist drain http://10.0.0.5:8000 && ssh 10.0.0.5 sudo reboot\n  hoist drain --force http://10.0.0.5:8000    even the last healthy backend (then every request gets 503)\n\nThe drain survives agent restarts and upgrades until `hoist undrain`."
)]
pub struct DrainArgs {
    /// The backend's URL as in `[[proxy.backend]]`.
    backend: String,
    /// Drain it even if it is the last healthy backend, so every request gets 503.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  hoist undrain http://10.0.0.5:8000")]
pub struct UndrainArgs {
    /// The backend's URL as in `[[proxy.backend]]`.
    backend: String,
}

pub fn drain(global: &Global, args: DrainArgs) -> anyhow::Result<i32> {
    let context = crate::target::open(global)?.0;
    let agent = crate::target::agent(&context)?;
    let drained = agent.drain(&args.backend, args.force)?;
    let detail = format!("`{}` gets no new requests", drained.backend);
    crate::target::record_traffic(&context, "drain", detail);
    if global.json {
        crate::output::Output::new(true).emit(&drained)?;
    }
    if drained.empty {
        eprintln!(
            "`{}` gets no new requests and is empty (waited {} ms); `hoist undrain` brings it back",
            drained.backend, drained.waited_ms
        );
        Ok(crate::EXIT_OK)
    } else {
        eprintln!(
            "`{}` gets no new requests but still has requests in flight after the drain timeout",
            drained.backend
        );
        Ok(crate::EXIT_FAILURE)
    }
}

pub fn undrain(global: &Global, args: UndrainArgs) -> anyhow::Result<i32> {
    let context = crate::target::open(global)?.0;
    crate::target::agent(&context)?.undrain(&args.backend)?;
    crate::target::record_traffic(
        &context,
        "undrain",
        format!("`{}` gets requests again", args.backend),
    );
    eprintln!("`{}` gets requests again", args.backend);
    let result = serde_json::json!({ "backend": args.backend, "draining": false });
    crate::output::json_result(global.json, &result)?;
    Ok(crate::EXIT_OK)
}

impl crate::output::Render for hoist_agent::Drained {
    /// The human form goes to stderr as a sentence; stdout carries only JSON.
    fn human(&self, _out: &mut String) {}
}
