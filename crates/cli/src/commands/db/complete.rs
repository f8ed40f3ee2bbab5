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

Refused while a release on the old side (one whose migrations lack the open
expansion's) serves here: live, warm for a rollback, or held. The error names
it and the way out. Exit codes: 0 done (or nothing open), 1 refused or failed,
2 usage.")]
pub struct Args {
    /// Why, for the ledger.
    #[arg(long)]
    reason: Option<String>,
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
