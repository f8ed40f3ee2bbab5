//! `hoist maint on|off --stage NAME`: maintenance on every host of a stage
//! at once, with one message and one `until` (resolved on this machine, so
//! `--until 20m` ends at the same moment everywhere).
//!
//! `on` is all or nothing: if a host cannot go into maintenance, the hosts
//! this operation put into it come out again (a stage half in maintenance
//! is not in maintenance). `off` is not undone: putting the healthy hosts
//! back into maintenance because one host failed to leave it would take
//! the whole stage down for one host; the error names that host.

use crate::each::{Failed, HostRun, Partial, StagePlan, StageRun};
use crate::{FleetError, Host, Progress};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// Maintenance as every host gets it.
#[derive(Debug, Clone)]
pub struct MaintOn {
    /// What the page says.
    pub message: String,
    /// When it ends, the same instant on every host.
    pub until: Option<jiff::Timestamp>,
    /// Path prefixes it covers (all when empty).
    pub paths: Vec<String>,
    /// Networks that still reach the app.
    pub allow: Vec<String>,
    /// The page itself, sent to every host.
    pub page: Option<String>,
}

/// On or off.
#[derive(Debug, Clone)]
pub enum MaintChange {
    /// `maint on`.
    On(MaintOn),
    /// `maint off`.
    Off,
}

impl MaintChange {
    fn action(&self) -> &'static str {
        match self {
            MaintChange::On(_) => "maint on",
            MaintChange::Off => "maint off",
        }
    }

    /// The host's `hoist maint ...` arguments; the page goes on stdin.
    fn args(&self) -> Vec<String> {
        let MaintChange::On(on) = self else {
            return vec!["maint".into(), "off".into()];
        };
        let mut args: Vec<String> = vec![
            "maint".into(),
            "on".into(),
            "--message".into(),
            on.message.clone(),
        ];
        if let Some(until) = on.until {
            args.extend(["--until".into(), until.to_string()]);
        }
        for path in &on.paths {
            args.extend(["--path".into(), path.clone()]);
        }
        for cidr in &on.allow {
            args.extend(["--allow".into(), cidr.clone()]);
        }
        if on.page.is_some() {
            args.extend(["--page".into(), "/dev/stdin".into()]);
        }
        args
    }
}

/// Turns maintenance on or off on every host of the stage.
pub async fn maint(
    plan: &StagePlan,
    change: &MaintChange,
    progress: &dyn Progress,
) -> Result<StageRun<Value>, Failed<Value>> {
    let started = std::time::Instant::now();
    let what = format!("{} on stage `{}`", change.action(), plan.stage_name);
    let opened = plan.open(&what, progress).await.map_err(|e| (e, None))?;
    let mut report = StageRun::new(plan, &opened.op, change.action().to_owned());
    let result = maint_held(plan, change, &opened.hosts, &mut report, progress).await;
    opened.close().await;
    report.settle(started, result)
}

async fn maint_held(
    plan: &StagePlan,
    change: &MaintChange,
    hosts: &[Host],
    report: &mut StageRun<Value>,
    progress: &dyn Progress,
) -> Result<(), FleetError> {
    // Which hosts were in maintenance before: `on` undoes only the others.
    let before = plan.each(hosts, |_, host| in_maintenance(host)).await;
    let mut was_on = Vec::new();
    for result in before {
        was_on.push(result?);
    }
    let args = change.args();
    let page = match change {
        MaintChange::On(on) => on.page.clone(),
        MaintChange::Off => None,
    };
    let results = plan
        .each(hosts, |_, host| {
            progress.host(&host.name, "maint", change.action());
            run_with_stdin(host, &args, page.as_deref())
        })
        .await;
    for (host, result) in hosts.iter().zip(results) {
        report.hosts.push(match result {
            Ok(answer) => {
                progress.host(&host.name, "done", change.action());
                HostRun::done(host, "done", answer)
            }
            Err(error) => {
                progress.host(&host.name, "failed", &error.to_string());
                HostRun::failed(host, &error)
            }
        });
    }
    let failures = report.failures();
    if failures.is_empty() {
        return Ok(());
    }
    let (mut undone, mut not_undone) = (Vec::new(), Vec::new());
    let after = match change {
        MaintChange::Off => "the other hosts are out of maintenance",
        MaintChange::On(_) => {
            let off = ["maint".to_owned(), "off".to_owned()];
            for (index, host) in hosts.iter().enumerate() {
                let run = &mut report.hosts[index];
                if run.outcome != "done" || was_on[index] {
                    continue;
                }
                progress.host(&host.name, "rollback", "maintenance off again");
                match run_with_stdin(host, &off, None).await {
                    Ok(_) => {
                        run.outcome = "put-back";
                        undone.push(host.name.clone());
                    }
                    Err(error) => {
                        run.outcome = "not-put-back";
                        run.problem = Some(error.to_string());
                        not_undone.push((host.name.clone(), error.to_string()));
                    }
                }
            }
            "turned maintenance off again"
        }
    };
    Err(Partial {
        action: change.action().to_owned(),
        failures,
        after,
        undone,
        not_undone,
        stage: plan.stage_name.clone(),
    }
    .into())
}

/// Whether the host is in maintenance now (its agent's, or the flag file).
async fn in_maintenance(host: &Host) -> Result<bool, FleetError> {
    #[derive(Deserialize)]
    struct Status {
        maintenance_flag: Option<Value>,
        agent: Option<Value>,
    }
    let status: Status = host.run(&["status"]).await?;
    let agent = status
        .agent
        .as_ref()
        .is_some_and(|agent| !agent["maintenance"].is_null());
    Ok(agent || status.maintenance_flag.is_some())
}

/// Runs hoist `args` on the host with `stdin` (or nothing) as its input.
async fn run_with_stdin(
    host: &Host,
    args: &[String],
    stdin: Option<&str>,
) -> Result<Value, FleetError> {
    use openssh::Stdio;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(stdin) = stdin else {
        return host.run(&args).await;
    };
    let mut child = host
        .command(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .await
        .map_err(|error| host.lost("maint", error))?;
    let mut input = child.stdin().take().expect("stdin is piped");
    // A host that refuses before reading says why in its answer.
    let _ = input.write_all(stdin.as_bytes()).await;
    drop(input);
    let output = child
        .wait_with_output()
        .await
        .map_err(|error| host.lost("maint", error))?;
    host.answer(&args.join(" "), output)
}
