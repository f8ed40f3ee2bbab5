use crate::cli::Global;
use crate::output::{Output, Render};
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Verify this release instead of the live one.
    #[arg(value_name = "RELEASE", conflicts_with = "release")]
    id: Option<String>,
    /// The same, as an option.
    #[arg(long, value_name = "ID")]
    release: Option<String>,
}

#[derive(Debug, Serialize)]
struct Verified {
    release: String,
    clean: bool,
    #[serde(flatten)]
    drift: hoist_store::Drift,
}

impl Render for Verified {
    fn human(&self, out: &mut String) {
        let count = self.drift.generated.len();
        let paths = crate::output::plural(count, "generated path", "generated paths");
        if self.clean {
            let generated = match self.drift.generated.first() {
                None => String::new(),
                Some(first) => format!(
                    " ({paths}, written by its checks or tests before the seal, unchanged, e.g. `{first}`)"
                ),
            };
            let _ = writeln!(out, "`{}` matches its manifest{generated}", self.release);
            return;
        }
        let _ = writeln!(out, "`{}` differs from its manifest:", self.release);
        for (label, paths) in [
            ("changed", &self.drift.changed),
            ("missing", &self.drift.missing),
            ("extra", &self.drift.extra),
            ("escapes", &self.drift.escapes),
            ("changed generated", &self.drift.changed_generated),
            ("missing generated", &self.drift.missing_generated),
        ] {
            for path in paths {
                let _ = writeln!(out, "  {label:<8} {path}");
            }
        }
        for change in &self.drift.mode {
            let _ = writeln!(out, "  mode changed: {change}");
        }
        if count > 0 {
            let _ = writeln!(
                out,
                "  ({paths} more, written by its checks or tests before the seal, as they left them)"
            );
        }
        let _ = writeln!(
            out,
            "`hoist repair {}` puts it back from its artifact",
            self.release
        );
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open_read_only(global)?;
    let release = crate::target::release_or_live(&context, args.id.or(args.release))?;
    let drift = hoist_deploy::verify_release(&context, &release)?;
    let verified = Verified {
        clean: drift.is_clean(),
        release,
        drift,
    };
    let code = if verified.clean {
        crate::EXIT_OK
    } else {
        crate::EXIT_FAILURE
    };
    Output::new(global.json).emit_then(&verified, code)
}
