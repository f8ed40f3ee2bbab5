//! `hoist db status`'s expand part: the open expansion, its backfill, the
//! view schemas, and what serves here on which side.

use crate::output::{self, Render};
use hoist_db::SchemaStatus;
use hoist_deploy::{Expansion, Side};
use serde::Serialize;

/// `hoist db status`: the migrations, and on PostgreSQL the expansion.
#[derive(Debug, Serialize)]
pub struct DbStatus {
    /// Applied, pending, drift, dirty.
    #[serde(flatten)]
    pub schema: SchemaStatus,
    /// Declarative migrations among the pending ones: each is expanded by
    /// the deploy that brings it.
    pub pending_declarative: Vec<String>,
    /// The open expansion, the view schemas, what serves on which side
    /// (absent for SQLite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expansion: Option<Expansion>,
    /// On SQLite: why the deploy bringing a pending declarative migration
    /// is refused (absent on PostgreSQL, where the deploy expands it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declarative_refused: Option<String>,
    /// An operation killed mid-way (a journal is pending): `hoist recover`
    /// finishes or undoes it before anything else runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interrupted>,
    /// Why the expansion could not be read (the migrations above still
    /// could be: a status reports what it can).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expansion_error: Option<String>,
}

/// The operation a pending journal says was interrupted.
#[derive(Debug, Serialize)]
pub struct Interrupted {
    /// The operation (`deploy`, `db-abort`, `rollback` ...).
    pub op: String,
    /// Its release.
    pub release: String,
    /// The step it stopped during.
    pub step: String,
}

impl Interrupted {
    fn describe(&self) -> String {
        format!(
            "`{}` of `{}` stopped during `{}`; run `hoist recover` first (it finishes or undoes it)",
            self.op, self.release, self.step
        )
    }
}

impl Render for DbStatus {
    fn human(&self, out: &mut String) {
        self.schema.human(out);
        for name in &self.pending_declarative {
            let what = match &self.declarative_refused {
                Some(why) => format!("{name} (refused: {why})"),
                None => format!("{name} (expanded by the deploy that brings it)"),
            };
            output::field(out, "declarative", what);
        }
        if let Some(interrupted) = &self.interrupted {
            output::field(out, "interrupted", interrupted.describe());
        }
        if let Some(expansion) = &self.expansion {
            expansion_lines(expansion, self.interrupted.as_ref(), out);
        }
        if let Some(problem) = &self.expansion_error {
            output::field(out, "expansion", format!("cannot be read: {problem}"));
        }
    }
}

fn expansion_lines(expansion: &Expansion, interrupted: Option<&Interrupted>, out: &mut String) {
    let status = &expansion.status;
    match &status.open {
        None => output::field(out, "expansion", "none open"),
        Some(open) => {
            let about = open
                .description
                .as_deref()
                .map(|text| format!(": {text}"))
                .unwrap_or_default();
            output::field(out, "expansion", format!("{}{about}", open.name));
            output::field(out, "step", open.step.as_str());
            output::field(
                out,
                "started",
                format!("{} by {}", open.started_at, open.started_by),
            );
            for backfill in &open.backfill {
                let state = if backfill.finished {
                    "done"
                } else {
                    "running or stopped"
                };
                output::field(
                    out,
                    "backfill",
                    format!(
                        "{}: {} of {} rows ({state})",
                        backfill.table, backfill.done, backfill.total
                    ),
                );
            }
            if open.faults > 0 {
                output::field(
                    out,
                    "faults",
                    format!(
                        "{} row(s) recorded with a value the migration could not compute when they were written (the writes went on). The list is as recorded: a later write may have mended some. `hoist db complete` computes each old-side row again (unless a later write changed it), drops those that work, and is refused while one fails; a new-side row needs nothing, since contract drops the old column:",
                        open.faults
                    ),
                );
                for row in &open.fault_rows {
                    output::field(out, "fault", row);
                }
            }
            let new = if open.new_releases.is_empty() {
                "none yet".to_owned()
            } else {
                open.new_releases.join(", ")
            };
            output::field(out, "new side", new);
        }
    }
    for schema in &status.view_schemas {
        output::field(
            out,
            "view schema",
            format!("{} ({})", schema.schema, schema.release),
        );
    }
    for serving in &expansion.serving {
        let side = match serving.side {
            Side::Old => "old side",
            Side::New => "new side",
        };
        output::field(out, "serving", format!("{}: {side}", serving.describe()));
    }
    if let Some(open) = &status.open {
        let old: Vec<&str> = expansion
            .serving
            .iter()
            .filter(|serving| serving.side == Side::Old)
            .map(|serving| serving.running.release.as_str())
            .collect();
        let new_serves = expansion
            .serving
            .iter()
            .any(|serving| serving.side == Side::New);
        // Abort is offered only as far as it would go through.
        let abort = match (open.no_down, new_serves) {
            (Some(op), _) => format!(
                "`hoist db abort` cannot give `{}` up (its op {op} (`sql`) has no `down`): complete it once they stopped; meanwhile `hoist rollback` switches back and keeps the expansion",
                open.name
            ),
            (None, true) => format!(
                "`hoist db abort` gives `{}` up once its new side stopped serving (`hoist rollback --with-db` does both)",
                open.name
            ),
            (None, false) => format!("`hoist db abort` gives `{}` up", open.name),
        };
        let next = if let Some(interrupted) = interrupted {
            interrupted.describe()
        } else if old.is_empty() {
            "`hoist db complete` drops the old shape (nothing here runs it)".to_owned()
        } else {
            format!(
                "`hoist db complete` waits for {} (old side); {abort}",
                old.join(", ")
            )
        };
        output::field(out, "next", next);
    }
}
