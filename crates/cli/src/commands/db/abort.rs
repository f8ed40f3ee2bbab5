//! `hoist db abort`: remove the open expansion (its new shape goes).

use crate::cli::Global;
use hoist_deploy::End;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  hoist db abort                       drop the new columns, triggers and view schemas
  hoist rollback && hoist db abort     first back to the release without the migration
  hoist db abort --json
  hoist db abort --stage production    every host checked over ssh, the abort run once

Refused while a release on the new side (one that joined the expansion and runs
on its own view schema) serves here: `hoist rollback` first (`hoist rollback
--with-db` does both). Afterwards the schema is exactly as before the expansion. Exit codes:
0 done (or nothing open), 1 refused or failed, 2 usage.")]
pub struct Args {
    /// Why, for the ledger.
    #[arg(long)]
    reason: Option<String>,
    /// Every host of this stage (`[stages.NAME]`): refused while any runs
    /// a new-side release; the abort then runs on one host.
    #[arg(long, value_name = "NAME")]
    pub(crate) stage: Option<String>,
}

pub fn exec(
    global: &Global,
    args: Args,
    context: hoist_deploy::Context,
    schema: &hoist_deploy::Schema,
) -> anyhow::Result<i32> {
    super::complete::end(global, End::Abort, args.reason, context, schema)
}
