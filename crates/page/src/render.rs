//! One site's page as HTML. maud escapes every value it interpolates, so
//! release ids, reasons and user names (all typed by users) cannot inject
//! markup. Stable `id`s, classes and `data-*` attributes name what tests
//! and scripts look for: `#live-release`, `tr[data-role=warm]`,
//! `#maintenance-until`, `#traffic tr[data-release]`, `#operations tr`.

use crate::model::{MaintenanceView, Operation, ReleaseView, Role, SchemaLine, SitePage, Traffic};
use crate::style::CSS;
use crate::time::{age, gmt};
use jiff::Timestamp;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The page as a self-contained HTML document.
pub fn render(page: &SitePage) -> String {
    let live = page.releases.iter().find(|view| view.role == Role::Live);
    let title = format!("{} on {}", page.root, page.host);
    let body = html! {
        header {
            h1 { "hoist: " span id="site-root" { (page.root) } }
            p.sub {
                "on " span id="site-host" { (page.host) } " · "
                @match live {
                    Some(live) => { "live " code id="live-release" data-release=(live.id) { (live.id) } }
                    None => { span id="live-release" .none { "nothing deployed" } }
                }
                " · page built " (when(page.generated_at, page.generated_at))
            }
        }
        @if !page.problems.is_empty() {
            section.problems id="problems" {
                strong { "Needs attention" }
                ul { @for problem in &page.problems { li.problem { (problem) } } }
            }
        }
        h2 { "Releases" }
        (releases(page))
        h2 { "Data, schema, maintenance" }
        (facts(page))
        h2 { "Traffic per release" }
        (traffic(page))
        h2 { "Last operations" }
        (operations(page))
    };
    document(&title, &page.generator, page.generated_at, body)
}

/// The `<html>` around `body`, shared with the stage page.
pub(crate) fn document(title: &str, generator: &str, at: Timestamp, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(generator);
                title { "hoist: " (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                (body)
                footer { "Built by " (generator) " at " (gmt(at)) ". Read-only: change nothing here; run hoist." }
            }
        }
    }
    .into_string()
}

/// A time in GMT with its age, machine-readable in `datetime`.
pub(crate) fn when(at: Timestamp, now: Timestamp) -> Markup {
    html! {
        time datetime=(at.to_string()) { (gmt(at)) } " " span.age { "(" (age(at, now)) ")" }
    }
}

fn dash(value: Option<&str>) -> Markup {
    match value {
        Some(value) => html! { (value) },
        None => html! { span.none { "–" } },
    }
}

fn releases(page: &SitePage) -> Markup {
    html! {
        table id="releases" {
            thead { tr { th { "role" } th { "release" } th { "version" } th { "revision" } th { "live since" } th { "by" } th { "why" } th { "note" } } }
            tbody {
                @for view in &page.releases { (release_row(view, page.generated_at)) }
                @if page.releases.is_empty() { tr { td colspan="8" .none { "nothing deployed yet" } } }
            }
        }
    }
}

fn release_row(view: &ReleaseView, now: Timestamp) -> Markup {
    let role = view.role.as_str();
    html! {
        tr.release data-role=(role) data-release=(view.id) {
            td { span class={ "role role-" (role) } { (role) } }
            td { code.id { (view.id) } }
            td { (dash(view.version.as_deref())) }
            td { @match &view.revision { Some(rev) => code { (rev.get(..12).unwrap_or(rev)) }, None => span.none { "–" } } }
            td { @match view.deployed_at { Some(at) => (when(at, now)), None => span.none { "never live" } } }
            td.by { (dash(view.deployed_by.as_deref())) }
            td.reason { (dash(view.reason.as_deref())) }
            td {
                @if let Some(until) = view.until { "warm until " (when(until, now)) }
                @if let Some(percent) = view.percent {
                    @if percent == 0 { "test traffic only" } @else { (percent) "% of clients" }
                }
                @if view.role == Role::Previous { "a plain hoist rollback goes here" }
            }
        }
    }
}

fn facts(page: &SitePage) -> Markup {
    html! {
        dl.facts {
            dt { "data" }
            dd id="data-version" {
                @match &page.data {
                    Some(data) => { code { (data.version) } @if let Some(label) = &data.label { " (" (label) ")" } }
                    None => span.none { "no data version" },
                }
            }
            dt { "schema" }
            dd id="schema" { (schema(&page.schema)) }
            dt { "maintenance" }
            dd id="maintenance" { (maintenance(page.maintenance.as_ref(), page.generated_at)) }
            dt { "agent" }
            dd id="agent" {
                @match &page.agent {
                    Some(agent) => { "pid " (agent.pid) " on " code { (agent.listen) } ", " (agent.in_flight) " in flight" }
                    None => span.none { "not running (external mode: the app is restarted by its own command)" },
                }
            }
        }
    }
}

fn schema(line: &SchemaLine) -> Markup {
    match line {
        SchemaLine::NotRead => html! { span.none { "not read (no [database], or not asked)" } },
        SchemaLine::Unreadable { problem } => html! { span.maint-on { "unreadable: " (problem) } },
        SchemaLine::Read {
            database,
            name,
            pending,
            dirty,
        } => html! {
            code { (name.as_deref().unwrap_or("empty")) }
            @if *pending > 0 { ", " (pending) " pending" }
            @if let Some(dirty) = dirty { span.maint-on { ", DIRTY: " (dirty) } }
            " on " code { (database) }
        },
    }
}

fn maintenance(view: Option<&MaintenanceView>, now: Timestamp) -> Markup {
    let Some(view) = view else {
        return html! { span.none data-state="off" { "off" } };
    };
    html! {
        span.maint-on data-state="on" { "ON" } " (" (view.source) "): " q { (view.message) }
        " · until "
        @match view.until {
            Some(until) => span id="maintenance-until" { (when(until, now)) },
            None => span id="maintenance-until" { "not given (\"back shortly\")" },
        }
    }
}

fn traffic(page: &SitePage) -> Markup {
    if page.traffic.is_empty() {
        return html! {
            p id="traffic" .none { "no counters: the agent is not running (in external mode the web server in front counts)" }
        };
    }
    let ms = |value: Option<f64>| value.map_or("–".to_owned(), |ms| format!("{ms:.1}"));
    html! {
        table id="traffic" {
            thead { tr { th { "release" } th { "requests" } th { "5xx" } th { "in flight" } th { "p50 ms" } th { "p99 ms" } } }
            tbody {
                @for row in &page.traffic {
                    (traffic_row(row, &ms))
                }
            }
        }
    }
}

fn traffic_row(row: &Traffic, ms: &dyn Fn(Option<f64>) -> String) -> Markup {
    html! {
        tr data-release=(row.release) data-requests=(row.requests) {
            td { code.id { (row.release) } }
            td.num { (row.requests) }
            td.num { (row.errors_5xx) }
            td.num { (row.in_flight) }
            td.num { (ms(row.p50_ms)) }
            td.num { (ms(row.p99_ms)) }
        }
    }
}

fn operations(page: &SitePage) -> Markup {
    html! {
        table id="operations" {
            thead { tr { th { "finished" } th { "operation" } th { "outcome" } th { "from → to" } th { "by" } th { "why" } th { "took" } } }
            tbody {
                @for op in &page.operations { (operation_row(op, page.generated_at)) }
                @if page.operations.is_empty() { tr { td colspan="7" .none { "the ledger has no operations" } } }
            }
        }
    }
}

fn operation_row(op: &Operation, now: Timestamp) -> Markup {
    html! {
        tr.op data-op=(op.op) data-outcome=(op.outcome) {
            td { (when(op.finished_at, now)) }
            td { (op.op) }
            td class={ "outcome-" (op.outcome) } {
                (op.outcome)
                @if let Some(failure) = &op.failure { br; span.age { (first_line(failure)) } }
            }
            td { code.id { (op.from.as_deref().unwrap_or("–")) } " → " code.id { (op.to.as_deref().unwrap_or("–")) } }
            td.by { (op.user) }
            td.reason { (dash(op.reason.as_deref())) }
            td.num { (op.duration_ms) " ms" }
        }
    }
}

/// A failure's first line: the ledger keeps the whole output tail, and
/// `hoist history` shows it; a table row shows what failed.
fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(200) {
        Some((at, _)) => &line[..at],
        None => line,
    }
}
