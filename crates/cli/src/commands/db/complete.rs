//! `hoist db complete`: contract the open expansion (its old shape goes).

use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::progress::Progress;
use hoist_deploy::{Contracted, End};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  hoist db complete                    drop the old columns, triggers and view schemas
  hoist db complete --json             what was dropped and renamed, as JSON
  hoist db complete --stage production every host checked over ssh, the contract run once

Refused while a release on the old side (one that never joined the expansion:
it runs on the base tables) serves here: live, warm for a rollback, or held.
Afterwards `rebased` (JSON) lists the releases whose recorded schema went back
to the base one: running processes keep the dropped view schema's name in
HOIST_DB_SCHEMA and PGOPTIONS until they restart (their search_path falls
through to the base schema, which has their shape). The error names
it and the way out. Exit codes: 0 done (or nothing open), 1 refused or failed,
2 usage.")]
pub struct Args {
    /// Why, for the ledger.
    #[arg(long)]
    pub(crate) reason: Option<String>,
    /// Every host of this stage (`[stages.NAME]`): refused while any runs
    /// an old-side release; the contract then runs on one host.
    #[arg(long, value_name = "NAME")]
    pub(crate) stage: Option<String>,
}

impl Render for Contracted {
    fn human(&self, out: &mut String) {
        let Some(finished) = &self.finished else {
            output::field(out, "nothing", "no expansion is open");
            return;
        };
        output::field(out, self.action, &finished.name);
        for dropped in &finished.dropped {
            output::field(out, "dropped", dropped);
        }
        for renamed in &finished.renamed {
            output::field(out, "renamed", renamed);
        }
        for schema in &finished.dropped_schemas {
            output::field(out, "view schema", format!("{schema} dropped"));
        }
        for release in &self.rebased {
            // After an abort the base schema has the old shape, not the
            // release's: it runs again only by expanding once more.
            let line = match self.action {
                "aborted" => format!("`{release}` was on the new side; its recorded schema is the base one again, and switching to it (`hoist rollback --to`, or deploying it) expands the migration again first"),
                _ => format!("`{release}` starts on the base schema from now on; its running processes keep the dropped view schema's name in HOIST_DB_SCHEMA and PGOPTIONS until it restarts (`hoist restart`; their search_path falls through to the base schema, which has their shape)"),
            };
            output::field(out, "rebased", line);
        }
        if finished.retries > 0 {
            output::field(out, "lock retries", finished.retries.to_string());
        }
    }
}

pub fn exec(
    global: &Global,
    args: Args,
    context: hoist_deploy::Context,
    schema: &hoist_deploy::Schema,
) -> anyhow::Result<i32> {
    end(global, End::Complete, args.reason, context, schema)
}

/// `hoist db complete` and `hoist db abort`: the agent asked what it
/// runs, the expansion ended `end`'s way, the result printed.
pub(super) fn end(
    global: &Global,
    end: End,
    reason: Option<String>,
    mut context: hoist_deploy::Context,
    schema: &hoist_deploy::Schema,
) -> anyhow::Result<i32> {
    crate::target::attach_agent(&mut context);
    let progress = Progress::new(global.quiet || global.json);
    let report = hoist_deploy::db_end(&context, schema, end, reason, &progress)?;
    Output::new(global.json).emit(&report)?;
    Ok(crate::EXIT_OK)
}
