//! `hoist status --stage NAME` and `hoist status --stages`: every host
//! asked over ssh in parallel, drift marked; or every stage side by side.
//!
//! Both exit 0 whenever they could answer, drift or unreachable hosts
//! included: the answer is the report (`drifting` in `--json`), not the
//! exit code. They fail only when they cannot ask (no such stage).

use super::table;
use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_fleet::{HostStatus, StageStatus, StagesView};
use std::time::Instant;

impl Render for StageStatus {
    fn human(&self, out: &mut String) {
        let on = self.release.as_ref().map_or(0, |release| {
            self.releases
                .iter()
                .find(|runs| &runs.release == release)
                .map_or(0, |runs| runs.hosts.len())
        });
        let release = self.release.as_deref().unwrap_or("nothing");
        let mixed = if self.mixed { " (mixed)" } else { "" };
        out.push_str(&format!(
            "stage `{}` runs {release} on {on} of {} hosts{mixed}\n",
            self.stage,
            self.hosts.len()
        ));
        let header = ["host", "ssh", "live", "previous", "data", "schema", "agent"];
        let mut rows = vec![(' ', header.iter().map(|cell| cell.to_string()).collect())];
        rows.extend(self.hosts.iter().map(|host| {
            let mark = if host.drift.is_empty() { ' ' } else { '!' };
            (mark, cells(host))
        }));
        table::write(out, &rows);
        for host in &self.hosts {
            for drift in &host.drift {
                out.push_str(&format!("! {}: {drift}\n", host.answer.host));
            }
        }
        if self.drifting.is_empty() {
            out.push_str("no drift\n");
        }
        output::field(out, "hoist", &self.hoist);
        output::field(out, "took", format!("{} ms", self.duration_ms));
    }
}

fn cells(host: &HostStatus) -> Vec<String> {
    let answer = &host.answer;
    let state = &answer.state;
    let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let ssh = match (answer.reachable, &answer.error) {
        (false, _) => "DOWN",
        (true, Some(_)) => "ERROR",
        (true, None) => "ok",
    };
    let schema = state.schema.as_ref().map_or_else(
        || "-".to_owned(),
        |schema| {
            let mut cell = schema.name.clone().unwrap_or_else(|| "empty".to_owned());
            if schema.pending > 0 {
                cell.push_str(&format!(" +{} pending", schema.pending));
            }
            if schema.dirty.is_some() {
                cell.push_str(" DIRTY");
            }
            cell
        },
    );
    let mut agent = state.agent.as_ref().map_or_else(
        || "-".to_owned(),
        |agent| format!("pid {}, {} in flight", agent.pid, agent.in_flight),
    );
    if state.maintenance() {
        agent.push_str(" (maintenance)");
    }
    vec![
        answer.host.clone(),
        ssh.to_owned(),
        dash(&state.live),
        dash(&state.previous),
        dash(&state.data),
        schema,
        agent,
    ]
}

impl Render for StagesView {
    fn human(&self, out: &mut String) {
        let header = ["stage", "release", "version", "revision", "hosts"];
        let mut rows = vec![(' ', header.iter().map(|cell| cell.to_string()).collect())];
        for stage in &self.stages {
            let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
            let release = match (&stage.release, stage.mixed) {
                (Some(release), true) => format!("{release} (mixed)"),
                (None, true) => "mixed".to_owned(),
                (release, false) => dash(release),
            };
            let mut hosts = format!("{}", stage.hosts);
            if !stage.unreachable.is_empty() {
                hosts.push_str(&format!(", unreachable: {}", stage.unreachable.join(" ")));
            }
            let mark = if stage.drifting.is_empty() { ' ' } else { '!' };
            rows.push((
                mark,
                vec![
                    stage.stage.clone(),
                    release,
                    dash(&stage.version),
                    dash(&stage.revision),
                    hosts,
                ],
            ));
        }
        table::write(out, &rows);
        for difference in &self.differences {
            let (ahead, behind) = (&difference.ahead, &difference.behind);
            let describe = |side: &hoist_fleet::Side| match &side.release {
                Some(release) => format!(
                    "{release} (version {}, revision {})",
                    side.version.as_deref().unwrap_or("-"),
                    side.revision.as_deref().unwrap_or("-")
                ),
                None => "nothing".to_owned(),
            };
            out.push_str(&format!(
                "`{}` is ahead of `{}`: it runs {}, `{}` runs {}\n",
                ahead.stage,
                behind.stage,
                describe(ahead),
                behind.stage,
                describe(behind)
            ));
        }
        for stage in self
            .stages
            .iter()
            .filter(|stage| !stage.drifting.is_empty())
        {
            out.push_str(&format!(
                "! `{}` drifts on {}: `hoist status --stage {}`\n",
                stage.stage,
                stage.drifting.join(", "),
                stage.stage
            ));
        }
        output::field(out, "took", format!("{} ms", self.duration_ms));
    }
}

/// `hoist status --stage NAME`.
/// With `html`, the stage's page goes there instead of the table.
pub fn exec(global: &Global, name: &str, html: Option<&std::path::Path>) -> anyhow::Result<i32> {
    let named = super::named(global, name)?;
    let runtime = super::runtime()?;
    let status = runtime.block_on(stage_status(vec![named]))?.remove(0);
    if let Some(html) = html {
        let generator = format!("hoist {}", env!("CARGO_PKG_VERSION"));
        let page = hoist_page::stage_page(&status, &generator);
        let rendered = hoist_page::render_stage(&page);
        return match crate::commands::status_page::write(html, rendered, page)? {
            Some(written) => Output::new(global.json).emit_then(&written, crate::EXIT_OK),
            None => Ok(crate::EXIT_OK),
        };
    }
    Output::new(global.json).emit_then(&status, crate::EXIT_OK)
}

/// `hoist status --stages`.
pub fn exec_all(global: &Global) -> anyhow::Result<i32> {
    let Some((config, _)) = crate::target::config(global)? else {
        let message = "`--stages` needs the project's hoist.toml with `[stages.NAME]`; none here";
        return Err(crate::Failure::new("no-config", message)
            .hint("hoist init")
            .into());
    };
    if config.stages.is_empty() {
        let message = "`--stages` compares the `[stages.NAME]` of hoist.toml, and it has none";
        return Err(crate::Failure::new("no-stages", message).into());
    }
    let named = config
        .stages
        .keys()
        .map(|name| super::named(global, name))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    let runtime = super::runtime()?;
    let statuses = runtime.block_on(stage_status(named))?;
    let view = hoist_fleet::compare(&statuses, started.elapsed().as_millis() as u64);
    Output::new(global.json).emit_then(&view, crate::EXIT_OK)
}

/// Asks every host of every stage in `named`, all at once, while this
/// machine's hoist is hashed (a debug build is ~250 MB: it takes a while).
async fn stage_status(named: Vec<super::Named>) -> anyhow::Result<Vec<StageStatus>> {
    let started = Instant::now();
    let ours = tokio::task::spawn_blocking(super::ours);
    let asks = named.iter().map(|named| async {
        let answers = hoist_fleet::ask_all(&named.stage, named.reach.clone()).await;
        (answers, started.elapsed().as_millis() as u64)
    });
    let answered = futures_util::future::join_all(asks).await;
    let ours = ours.await??;
    Ok(named
        .iter()
        .zip(answered)
        .map(|(named, (answers, duration_ms))| {
            hoist_fleet::judge(&named.name, answers, &ours, duration_ms)
        })
        .collect())
}
