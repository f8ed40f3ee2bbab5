//! `hoist walk [URL]`: the deploy's link walk, on demand.

use crate::cli::Global;
use crate::output::{Output, Render};
use anyhow::Context as _;
use hoist_walk::{WalkOptions, WalkReport};
use std::fmt::Write as _;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist walk                       the live site, through the agent's public listener\n  hoist walk --candidate           the held candidate (`hoist deploy --hold`), as the deploy walks it\n  hoist walk http://127.0.0.1:8080/docs/ --depth 5\n  hoist walk --json | jq '.dead[].url'\n\nExits 1 when a link answers 4xx or 5xx (or not at all), or redirects in a loop; each dead link is listed with the pages that link to it. A page bigger than 4 MiB is read in part, with a warning. Exits 2 for a URL the walk cannot fetch (not `http://`)."
)]
pub struct Args {
    /// Where to start (default: `[deploy.smoke] crawl`, or `/`, on the site's agent, else on `[deploy] health`'s origin).
    #[arg(value_name = "URL")]
    url: Option<String>,
    /// Walk the held candidate through the test routing (`hoist-release: candidate`).
    #[arg(long)]
    candidate: bool,
    /// Link hops followed from the start page (default: `[deploy.smoke] depth`, 3).
    #[arg(long)]
    depth: Option<u32>,
    /// Requests sent at most (default: `[deploy.smoke] max_pages`, 200).
    #[arg(long, value_name = "N")]
    max_pages: Option<usize>,
}

impl Render for WalkReport {
    fn human(&self, out: &mut String) {
        let _ = writeln!(out, "{}", self.summary());
        for dead in &self.dead {
            let _ = writeln!(out, "  dead link: {dead}");
        }
        for warning in self.warnings() {
            let _ = writeln!(out, "  warning: {warning}");
        }
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (walk, smoke) = start(global, &args)?;
    let mut options = WalkOptions {
        depth: args.depth.unwrap_or(smoke.depth),
        max_pages: args.max_pages.unwrap_or(smoke.max_pages),
        timeout: smoke.timeout,
        ..walk
    };
    if args.candidate {
        options
            .headers
            .push(("hoist-release".to_owned(), "candidate".to_owned()));
    }
    let report = hoist_walk::walk(&options)?;
    let code = if report.is_clean() {
        crate::EXIT_OK
    } else {
        crate::EXIT_FAILURE
    };
    Output::new(global.json).emit_then(&report, code)
}

/// Where to walk and the site's `[deploy.smoke]` (defaults without a site).
fn start(global: &Global, args: &Args) -> anyhow::Result<(WalkOptions, hoist_config::Smoke)> {
    if let Some(url) = &args.url {
        let start = argument(url)?;
        let smoke = crate::target::config(global)?
            .map(|(config, _)| config.deploy.smoke)
            .unwrap_or_default();
        return Ok((WalkOptions::new(start), smoke));
    }
    let (context, config) = crate::target::open_read_only(global)?;
    let deploy = config.map(|config| config.deploy).unwrap_or_default();
    let path = deploy.smoke.crawl.clone().unwrap_or_else(|| "/".to_owned());
    let origin = match hoist_agent::AgentClient::find(&context.site.socket_path()) {
        Some(agent) => format!(
            "http://{}",
            hoist_walk::from_this_host(&agent.status()?.listen)
        ),
        None => match &deploy.health {
            Some(health) => context
                .resolve("deploy.health", health)
                .context("cannot read `[deploy] health`")?,
            None => {
                return Err(crate::Failure::new(
                    "no-agent",
                    "no agent runs for this site and `[deploy] health` is not set, so there is nothing to walk: give a URL (`hoist walk http://127.0.0.1:8080/`)",
                )
                .into())
            }
        },
    };
    let site = url::Url::parse(&origin).with_context(|| format!("cannot walk `{origin}`"))?;
    Ok((WalkOptions::on_site(&site, &path)?, deploy.smoke))
}

/// The URL argument, which must be one the walk can fetch: a wrong one is
/// a usage error (exit 2), not a failed walk.
fn argument(url: &str) -> Result<url::Url, crate::UsageError> {
    let usage = |problem: String| crate::UsageError {
        message: format!("`{url}` {problem}"),
        hint: Some("give a plain-HTTP URL: hoist walk http://127.0.0.1:8080/".to_owned()),
    };
    let start: url::Url = url
        .parse()
        .map_err(|error| usage(format!("is not a URL: {error}")))?;
    if start.scheme() != "http" {
        return Err(usage(format!(
            "is not an `http://` URL: the walk speaks plain HTTP, not `{}`",
            start.scheme()
        )));
    }
    if start.host_str().is_none_or(str::is_empty) {
        return Err(usage("names no host".to_owned()));
    }
    Ok(start)
}
