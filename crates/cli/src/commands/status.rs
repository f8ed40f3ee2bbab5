use crate::cli::Global;
use crate::output::{self, Output, Render};
use hoist_deploy::Status;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Render for Status {
    fn human(&self, out: &mut String) {
        output::field(out, "root", &self.root);
        output::field(
            out,
            "live",
            self.live.as_deref().unwrap_or("(nothing deployed)"),
        );
        output::field(out, "since", output::time(self.deployed_at));
        output::field(out, "by", self.deployed_by.as_deref().unwrap_or("-"));
        output::field(out, "previous", self.previous.as_deref().unwrap_or("-"));
        if let Some(holder) = &self.locked_by {
            output::field(out, "running", holder);
        }
        if let Some(pending) = &self.pending {
            let what = format!(
                "{} of `{}` stopped during `{}`; run `hoist recover`",
                pending.op, pending.release, pending.step
            );
            output::field(out, "interrupted", what);
        }
        if let Some(event) = &self.last_event {
            let what = format!(
                "{} {} by {} at {}",
                event.op,
                event.outcome,
                event.user,
                output::time(Some(event.finished_at))
            );
            output::field(out, "last", what);
        }
    }
}

pub fn exec(global: &Global, _args: Args) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open(global)?;
    let status = hoist_deploy::status(&context)?;
    Output::new(global.json).emit(&status)?;
    Ok(crate::EXIT_OK)
}
