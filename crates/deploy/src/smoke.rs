//! The link walk before users get a release (`[deploy.smoke] crawl`), in
//! the `hoist-walk` crate's crawler; seed 000's `walk.pl`, run before the
//! switch instead of after it.
//!
//! - Agent mode: the target starts as a held candidate (as `deploy --hold`
//!   starts it), the walk reaches it through the public listener with
//!   `hoist-release: candidate` from this host (the proxy's test routing),
//!   and only a clean walk lets the switch take that same process. Dead
//!   links stop the candidate: no user ever got it. A first deploy walks
//!   the same way: with nothing live, the proxy still sends test traffic
//!   to the held candidate. Journaled as step `hold`.
//! - External mode: there is no candidate before the switch (the app's
//!   own `restart` replaces the code in place), so the walk runs on
//!   `[deploy] health`'s origin right after the health check, before the
//!   deploy is declared done; dead links switch back. Users may have met
//!   the release for the length of the walk, and the docs and the failure
//!   say so. Journaled as step `walk`, so `hoist recover` after a kill
//!   walks again instead of recording a walk that never finished.
//!
//! Only a deploy walks: a rollback must get back whatever its links say.

use crate::{activate, AgentLink, Context, DeployError, Reporter};
use hoist_config::{Deploy, Smoke};
use hoist_site::{Journal, Op, Step};
use hoist_walk::{WalkOptions, WalkReport};
use url::Url;

/// The path to crawl, when `op` walks.
pub(crate) fn crawl_path(op: Op, settings: &Deploy) -> Option<&str> {
    match op {
        Op::Deploy => settings.smoke.crawl.as_deref(),
        _ => None,
    }
}

/// Why a walk did not pass.
enum NotPassed {
    /// It ran and found dead links.
    Dead(WalkReport),
    /// It could not run.
    Broken(String),
}

/// Agent mode: holds the target beside the live release, walks it through
/// the test routing, and stops it again on dead links.
pub(crate) fn walk_candidate(
    context: &Context,
    journal: &mut Journal,
    agent: &dyn AgentLink,
    smoke: &Smoke,
    path: &str,
    reporter: &dyn Reporter,
) -> Result<(), DeployError> {
    let target = journal.record().release.clone();
    // A crash from here on: `hoist recover` stops the candidate (see recover.rs).
    journal.step(Step::Hold)?;
    reporter.step(
        "walk",
        &format!("agent: starting `{target}` beside the live release for the link walk"),
    );
    if let Err(problem) = agent.hold(&target) {
        return Err(activate::failed(context, journal, &problem, true, reporter));
    }
    let walked = agent
        .public_address()
        .map_err(NotPassed::Broken)
        .and_then(|address| {
            on_site(
                &format!("http://{}", hoist_walk::from_this_host(&address)),
                path,
            )
        })
        .and_then(|walk| {
            let headers = vec![("hoist-release".to_owned(), "candidate".to_owned())];
            run(walk, headers, smoke, reporter)
        });
    let Err(not_passed) = walked else {
        return Ok(());
    };
    if let Err(problem) = agent.abort() {
        reporter.warn(&format!(
            "could not stop the candidate `{target}` after its link walk: {problem}; run `hoist abort`"
        ));
    }
    match not_passed {
        NotPassed::Dead(report) => {
            let problem = dead_links(&report, &target, "it did not go live");
            let _ = activate::failed(context, journal, &problem, true, reporter);
            Err(DeployError::DeadLinks { problem })
        }
        NotPassed::Broken(problem) => {
            let problem = format!("the link walk could not run, nothing was switched: {problem}");
            Err(activate::failed(
                context, journal, &problem, false, reporter,
            ))
        }
    }
}

/// External mode: walks `health`'s origin (the restarted app) from `path`.
pub(crate) fn walk_external(
    context: &Context,
    health: &str,
    smoke: &Smoke,
    path: &str,
    target: &str,
    reporter: &dyn Reporter,
) -> Result<(), String> {
    let health = context
        .resolve("deploy.health", health)
        .map_err(|error| error.to_string())?;
    let origin = Url::parse(&health)
        .map_err(|error| format!("`[deploy] health` `{health}` is not a URL: {error}"))?;
    let walked =
        on_site(origin.as_str(), path).and_then(|walk| run(walk, Vec::new(), smoke, reporter));
    match walked {
        Ok(()) => Ok(()),
        // The restart put the release in front of users already: the
        // message must not claim it never went live.
        Err(NotPassed::Dead(report)) => Err(dead_links(
            &report,
            target,
            "it had gone live for the walk (without an agent there is no candidate to walk), so users may have met it until hoist switched back",
        )),
        Err(NotPassed::Broken(problem)) => Err(format!("the link walk could not run: {problem}")),
    }
}

/// A walk of `path` on the site at `origin`; a path that leaves it is
/// refused by the walker too (config validation refuses it first).
fn on_site(origin: &str, path: &str) -> Result<WalkOptions, NotPassed> {
    let site = Url::parse(origin)
        .map_err(|error| NotPassed::Broken(format!("cannot walk `{origin}`: {error}")))?;
    WalkOptions::on_site(&site, path).map_err(|error| NotPassed::Broken(error.to_string()))
}

fn run(
    walk: WalkOptions,
    headers: Vec<(String, String)>,
    smoke: &Smoke,
    reporter: &dyn Reporter,
) -> Result<(), NotPassed> {
    reporter.step(
        "walk",
        &format!("following same-site links from {}", walk.start),
    );
    let options = WalkOptions {
        depth: smoke.depth,
        max_pages: smoke.max_pages,
        timeout: smoke.timeout,
        headers,
        ..walk
    };
    let report =
        hoist_walk::walk(&options).map_err(|error| NotPassed::Broken(error.to_string()))?;
    reporter.step("walk", &report.summary());
    if report.truncated {
        reporter.warn(&format!(
            "the link walk stopped at `max_pages` ({}); links past it were not checked",
            smoke.max_pages
        ));
    }
    for warning in report.warnings() {
        reporter.warn(&warning);
    }
    if report.is_clean() {
        return Ok(());
    }
    Err(NotPassed::Dead(report))
}

/// The failure: what became of the release (`outcome`), then every dead
/// link on a line of its own, with its referrers.
fn dead_links(report: &WalkReport, target: &str, outcome: &str) -> String {
    let lines: Vec<String> = report
        .dead
        .iter()
        .map(|dead| format!("\n  dead link: {dead}"))
        .collect();
    format!(
        "the link walk of `{target}` found {} dead link(s); {outcome}:{}",
        report.dead.len(),
        lines.concat()
    )
}
