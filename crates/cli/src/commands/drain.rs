//! `hoist drain BACKEND` / `hoist undrain BACKEND`: one static backend out of
//! (and back into) rotation, e.g. before maintaining that host.

use crate::cli::Global;
use anyhow::Context as _;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist drain http://10.0.0.5:8000 && ssh 10.0.0.5 sudo reboot\n  hoist undrain http://10.0.0.5:8000"
)]
pub struct DrainArgs {
    /// The backend's URL as in `[[proxy.backend]]`.
    backend: String,
}

fn agent(global: &Global) -> anyhow::Result<hoist_agent::AgentClient> {
    let (context, _) = crate::target::open(global)?;
    let socket = context.site.socket_path();
    hoist_agent::AgentClient::find(&socket)
        .with_context(|| format!("no agent answers on `{}`", socket.display()))
}

pub fn drain(global: &Global, args: DrainArgs) -> anyhow::Result<i32> {
    let drained = agent(global)?.drain(&args.backend)?;
    if global.json {
        crate::output::Output::new(true).emit(&Drained(drained.clone()))?;
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

pub fn undrain(global: &Global, args: DrainArgs) -> anyhow::Result<i32> {
    agent(global)?.undrain(&args.backend)?;
    eprintln!("`{}` gets requests again", args.backend);
    Ok(crate::EXIT_OK)
}

#[derive(serde::Serialize)]
#[serde(transparent)]
struct Drained(hoist_agent::Drained);

impl crate::output::Render for Drained {
    fn human(&self, _out: &mut String) {}
}
