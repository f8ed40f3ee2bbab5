//! `hoist status --html FILE` (and `--stage NAME --html FILE`): the status
//! page, built and rendered by `hoist-page`, written durably (temp file,
//! fsync, rename) so a web server serving FILE never shows half a page.
//! `--html -` writes it to stdout instead.
//!
//! The agent serves the same page; what this file adds is only what the
//! command line knows: the agent's status over its socket, the schema read
//! with the config's credentials, and the maintenance flag file.

use crate::output::{self, Render};
use hoist_agent::AgentStatus;
use hoist_page::model::{MaintenanceView, SchemaLine};
use hoist_page::{Extras, Serving};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `--html FILE` reports (`--json`: the page's model too).
#[derive(Debug, Serialize)]
pub struct Written<P: Serialize> {
    /// The file written.
    pub html: PathBuf,
    /// Its size.
    pub bytes: usize,
    /// What the page shows.
    pub page: P,
}

impl<P: Serialize> Render for Written<P> {
    fn human(&self, out: &mut String) {
        output::field(
            out,
            "page",
            format!(
                "wrote `{}` ({})",
                self.html.display(),
                output::bytes(self.bytes as u64)
            ),
        );
    }
}

/// `--html -`: stdout, where `--json` would also go.
pub fn check_target(html: &Path, json: bool) -> anyhow::Result<()> {
    if json && html == Path::new("-") {
        return Err(crate::UsageError {
            message: "`--html -` writes the page to stdout, where `--json` writes its report"
                .to_owned(),
            hint: Some("hoist status --json --html status.html".to_owned()),
        }
        .into());
    }
    Ok(())
}

/// Writes `html` to `path` durably, or to stdout for `-`. `Some` report
/// for a file; `None` when the page itself went to stdout.
pub fn write<P: Serialize>(
    path: &Path,
    html: String,
    page: P,
) -> anyhow::Result<Option<Written<P>>> {
    if path == Path::new("-") {
        use std::io::Write as _;
        std::io::stdout().lock().write_all(html.as_bytes())?;
        return Ok(None);
    }
    hoist_site::durable::write_atomic(path, html.as_bytes())?;
    Ok(Some(Written {
        html: path.to_owned(),
        bytes: html.len(),
        page,
    }))
}

/// What the page takes from the command line's view of the site.
pub fn extras(
    agent: Option<&AgentStatus>,
    schema: Option<&hoist_deploy::SchemaSummary>,
    schema_error: Option<&str>,
    flag: Option<&crate::flag_file::FlagState>,
) -> Extras {
    let schema = match (schema, schema_error) {
        (Some(schema), _) => SchemaLine::Read {
            database: schema.database.clone(),
            name: schema.name.clone(),
            pending: schema.pending,
            dirty: schema.dirty.clone(),
        },
        (None, Some(problem)) => SchemaLine::Unreadable {
            problem: problem.to_owned(),
        },
        (None, None) => SchemaLine::NotRead,
    };
    let maintenance = flag.map(|flag| MaintenanceView {
        message: flag
            .record
            .as_ref()
            .map(|record| record.message.clone())
            .unwrap_or_default(),
        until: flag.record.as_ref().and_then(|record| record.until),
        source: "flag-file".to_owned(),
    });
    Extras {
        agent: agent.map(Serving::from),
        schema,
        maintenance,
        ..Extras::default()
    }
}
