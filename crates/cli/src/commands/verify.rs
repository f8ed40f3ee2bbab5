use crate::cli::Global;
use crate::output::{Output, Render};
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Verify this release instead of the live one.
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
        if self.clean {
            let _ = writeln!(out, "`{}` matches its manifest", self.release);
            return;
        }
        let _ = writeln!(out, "`{}` differs from its manifest:", self.release);
        for (label, paths) in [
            ("changed", &self.drift.changed),
            ("missing", &self.drift.missing),
            ("extra", &self.drift.extra),
            ("escapes", &self.drift.escapes),
        ] {
            for path in paths {
                let _ = writeln!(out, "  {label:<8} {path}");
            }
        }
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (context, _) = crate::target::open_read_only(global)?;
    let release = crate::target::release_or_live(&context, args.release)?;
    let drift = hoist_deploy::verify_release(&context, &release)?;
    let verified = Verified {
        clean: drift.is_clean(),
        release,
        drift,
    };
    Output::new(global.json).emit(&verified)?;
    Ok(if verified.clean {
        crate::EXIT_OK
    } else {
        crate::EXIT_FAILURE
    })
}
