//! `hoist db abort`: remove the open expansion (its new shape goes).

use crate::cli::Global;
use hoist_deploy::End;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  hoist db abort                       drop the new columns, triggers and view schemas
  hoist rollback && hoist db abort     first back to the release without the migration
  hoist db abort --json
  hoist db abort --sql-undone          after undoing by hand an `sql` op that has no `down`
  hoist db abort --stage production    every host checked over ssh, the abort run once

Refused while a release on the new side (one that joined the expansion and runs
on its own view schema) serves here: `hoist rollback` first (`hoist rollback
--with-db` does both). Afterwards the schema is exactly as before the expansion. An `sql`
op without `down` cannot be undone by hoist: abort is refused (`cannot-abort`, naming the
op) until you undo its `up` by hand with psql and pass `--sql-undone`. Exit codes:
0 done (or nothing open), 1 refused or failed, 2 usage.")]
pub struct Args {
    /// Why, for the ledger.
    #[arg(long)]
    pub(crate) reason: Option<String>,
    /// You undid by hand (with psql) what the expansion's `sql` ops
    /// without `down` did: abort removes the rest instead of refusing.
    #[arg(long)]
    pub(crate) sql_undone: bool,
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
    let mut schema = schema.clone();
    schema.expand.sql_undone = args.sql_undone;
    super::complete::end(global, End::Abort, args.reason, context, &schema)
}
