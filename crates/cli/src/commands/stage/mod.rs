//! The `--stage NAME` side of commands: the same operation on every host
//! of a stage, driven from this machine over OpenSSH (`hoist-fleet`).

pub(crate) mod data;
pub(crate) mod db;
pub(crate) mod deploy;
mod from_stage;
pub(crate) mod history;
pub(crate) mod maint;
pub(crate) mod prune;
pub(crate) mod restart;
pub(crate) mod rollback;
mod run;
pub(crate) mod status;
mod table;

use crate::cli::Global;
use crate::output::{Output, Render};
use hoist_config::{Config, Stage};
use hoist_fleet::{FleetError, HoistBuild, Reach};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A stage as `hoist.toml` names it.
pub struct Named {
    pub name: String,
    pub stage: Stage,
    pub reach: Arc<Reach>,
    pub config: Config,
    /// The directory of `hoist.toml` (`ssh_config` is relative to it).
    pub base: PathBuf,
}

impl Named {
    /// The stage as a fleet operation's target, driven by this machine.
    pub fn target(&self) -> anyhow::Result<hoist_fleet::Target> {
        Ok(hoist_fleet::Target {
            stage_name: self.name.clone(),
            stage: self.stage.clone(),
            reach: self.reach.clone(),
            by: by(),
            ours: ours()?,
        })
    }
}

/// Reads `[stages.NAME]` from the project's `hoist.toml`.
pub fn named(global: &Global, name: &str) -> anyhow::Result<Named> {
    // `--root` given for a stage (`$HOIST_ROOT`, for one site, is not).
    let from_env = std::env::var_os("HOIST_ROOT").map(PathBuf::from);
    if global.root.is_some() && global.root != from_env {
        return Err(crate::UsageError {
            message: format!(
                "`--root` names one site; the hosts of stage `{name}` use its `root` in hoist.toml"
            ),
            hint: Some(format!("drop --root, or set `root` under [stages.{name}]")),
        }
        .into());
    }
    let Some((config, path)) = crate::target::config(global)? else {
        let message = format!(
            "`--stage {name}` needs the project's hoist.toml with `[stages.{name}]`; none here"
        );
        return Err(crate::Failure::new("no-config", message)
            .hint("hoist init")
            .into());
    };
    let Some(stage) = config.stages.get(name).cloned() else {
        let known = config.stages.keys().cloned().collect::<Vec<_>>();
        return Err(FleetError::UnknownStage {
            name: name.to_owned(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        }
        .into());
    };
    let base = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let base = std::path::absolute(&base).unwrap_or(base);
    Ok(Named {
        name: name.to_owned(),
        reach: Arc::new(Reach::of(name, &stage, &base)),
        stage,
        config,
        base,
    })
}

/// This machine's hoist, which every host must run.
pub fn ours() -> anyhow::Result<HoistBuild> {
    Ok(HoistBuild::this_process()?)
}

/// `user@machine`, for every host's lock and ledger.
pub fn by() -> String {
    format!("{}@{}", hoist_site::user_name(), hoist_site::host_name())
}

/// The runtime fleet commands run on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A flag Ctrl-C sets: the operation stops at its next check point and
/// rolls back what it switched. A second Ctrl-C exits at once (each host
/// finishes the step it is on by itself; `hoist status --stage` tells).
pub fn interrupt_flag(runtime: &tokio::runtime::Runtime) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            set.store(true, Ordering::SeqCst);
            eprintln!("hoist: interrupted: stopping at the next step and rolling back what this operation switched (Ctrl-C again to leave now)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    flag
}

/// What a fleet operation runs on: a runtime, the Ctrl-C flag, progress.
pub fn driver(
    global: &Global,
    hosts: &[String],
) -> anyhow::Result<(
    tokio::runtime::Runtime,
    Arc<AtomicBool>,
    crate::fleet_progress::FleetProgress,
)> {
    let runtime = runtime()?;
    let interrupted = interrupt_flag(&runtime);
    let progress = crate::fleet_progress::FleetProgress::new(hosts, global.quiet || global.json);
    Ok((runtime, interrupted, progress))
}

/// Prints a fleet operation's result, or its failure with its report.
pub fn finish(
    global: &Global,
    result: Result<hoist_fleet::FleetReport, (FleetError, Option<hoist_fleet::FleetReport>)>,
) -> anyhow::Result<i32> {
    match result {
        Ok(report) => {
            Output::new(global.json).emit(&report)?;
            Ok(crate::EXIT_OK)
        }
        Err((error, report)) => failed(global, error, report),
    }
}

/// A failed fleet operation with its per-host report: under `--json` one
/// object, `{"error": {...}, "result": {...}}`, on stdout; exit 1.
pub fn failed<T: Serialize + Render>(
    global: &Global,
    error: FleetError,
    report: Option<T>,
) -> anyhow::Result<i32> {
    let Some(report) = report else {
        return Err(error.into());
    };
    let error = anyhow::Error::from(error);
    let rendered = crate::report::Report::from_error(&error);
    if global.json {
        #[derive(Serialize)]
        struct Both<'a, T> {
            error: &'a crate::report::Report,
            result: &'a T,
        }
        let both = Both {
            error: &rendered,
            result: &report,
        };
        println!("{}", serde_json::to_string(&both)?);
    } else {
        Output::new(false).emit(&report)?;
    }
    rendered.print_human();
    Ok(crate::EXIT_FAILURE)
}
