//! A stage's page: one row per host, drifting hosts highlighted
//! (`tr.drift`, their kinds in `data-drift`, the sentences beneath).

use crate::model::{HostRow, StagePage};
use crate::render::{document, when};
use jiff::Timestamp;
use maud::{html, Markup};

/// The stage page as a self-contained HTML document.
pub fn render_stage(page: &StagePage) -> String {
    let on = page
        .hosts
        .iter()
        .filter(|host| host.live.is_some() && host.live == page.release)
        .count();
    let drifting = page
        .hosts
        .iter()
        .filter(|host| !host.drift.is_empty())
        .count();
    let body = html! {
        header {
            h1 { "hoist: stage " span id="stage-name" { (page.stage) } }
            p.sub {
                "runs "
                @match &page.release {
                    Some(release) => code id="stage-release" data-release=(release) { (release) },
                    None => span id="stage-release" .none { "nothing" },
                }
                " on " (on) " of " (page.hosts.len()) " hosts · data "
                code { (page.data.as_deref().unwrap_or("–")) }
                " · page built " (when(page.generated_at, page.generated_at))
            }
        }
        @if drifting > 0 {
            section.problems id="problems" {
                strong { (drifting) " of " (page.hosts.len()) " hosts drift from the stage" }
                " (highlighted below)."
            }
        }
        h2 { "Hosts" }
        table id="hosts" {
            thead { tr { th { "host" } th { "live" } th { "version" } th { "live since" } th { "by" } th { "previous" } th { "data" } th { "schema" } th { "agent" } } }
            tbody { @for host in &page.hosts { (host_row(host, page.generated_at)) } }
        }
    };
    let title = format!("stage {}", page.stage);
    document(&title, &page.generator, page.generated_at, body)
}

fn host_row(host: &HostRow, now: Timestamp) -> Markup {
    let kinds: Vec<&str> = host.drift.iter().map(|(kind, _)| kind.as_str()).collect();
    let cell = |value: &Option<String>| {
        html! {
            @match value { Some(value) => code.id { (value) }, None => span.none { "–" } }
        }
    };
    html! {
        tr.host.drift[!host.drift.is_empty()] data-host=(host.host) data-live=[host.live.as_deref()] data-drift=(kinds.join(" ")) {
            td { (host.host) @if !host.answered { " (no answer)" } }
            td { (cell(&host.live)) }
            td { (cell(&host.version)) }
            td { @match host.deployed_at { Some(at) => (when(at, now)), None => span.none { "–" } } }
            td.by { (host.deployed_by.as_deref().unwrap_or("–")) }
            td { (cell(&host.previous)) }
            td { (cell(&host.data)) }
            td { (host.schema.as_deref().unwrap_or("–")) }
            td {
                (host.agent.as_deref().unwrap_or("–"))
                @if host.maintenance { " " span.maint-on { "maintenance" } }
            }
        }
        @if !host.drift.is_empty() {
            tr.drift.why data-host=(host.host) {
                td {}
                td colspan="8" { ul.drift { @for (_, sentence) in &host.drift { li { (sentence) } } } }
            }
        }
    }
}
