//! `hoist fleet health`: one health probe of the live release, for a
//! fleet's watch between waves.

use crate::cli::Global;
use crate::output::{self, Output, Render};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Give the probe this long.
    #[arg(long, default_value = "2s", value_parser = hoist_config::parse_duration)]
    within: Duration,
}

#[derive(Debug, Serialize)]
struct Health {
    live: Option<String>,
    url: Option<String>,
    ok: bool,
    detail: String,
}

impl Render for Health {
    fn human(&self, out: &mut String) {
        output::field(out, "live", self.live.as_deref().unwrap_or("-"));
        output::field(out, "health", if self.ok { "ok" } else { "failing" });
        output::field(out, "detail", &self.detail);
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (context, config) = crate::target::open_read_only(global)?;
    let live = context.site.live()?;
    let url = match &live {
        Some(id) => context
            .config_for(id, config.as_ref())?
            .and_then(|config| config.deploy.health),
        None => None,
    };
    let (ok, detail) = match (&live, &url) {
        (None, _) => (false, "nothing is live".to_owned()),
        (Some(_), Some(url)) => match hoist_deploy::probe_health(url, args.within) {
            Ok(()) => (true, format!("`{url}` answered 2xx")),
            Err(problem) => (false, problem),
        },
        (Some(_), None) => (
            true,
            "no `[deploy] health` URL; the live release is in place".into(),
        ),
    };
    Output::new(global.json).emit(&Health {
        live,
        url,
        ok,
        detail,
    })?;
    Ok(crate::EXIT_OK)
}
