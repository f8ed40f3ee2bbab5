//! `hoist data roll|revert --stage NAME [VERSION]`: every host's
//! `data/current` moves to one version, together.
//!
//! First every host says which version it would go to and what is live
//! (`hoist fleet data-target`, the single-host rules: an id, a unique
//! prefix, a label, the newest loaded, the one live before). They must all
//! name the same version; a host that lacks it, or names another, stops
//! the operation before anything moves. Then every host rolls (`hoist data
//! roll ID`, journaled and recorded there under the fleet operation). If
//! any fails, every host that moved is put back on the version it had
//! before (`hoist data roll FROM`), as the code deploy's coordinated
//! rollback does, and the error names what became of each.

use crate::each::{Failed, HostRun, Partial, StagePlan, StageRun};
use crate::{FleetError, Host, Progress};
use serde::{Deserialize, Serialize};

/// Forward to a version, or back to the one live before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMove {
    /// `data roll [VERSION]`: the newest loaded, or VERSION.
    Roll,
    /// `data revert [--to V]`: the one live before, or V.
    Revert,
}

impl DataMove {
    fn verb(self) -> &'static str {
        match self {
            DataMove::Roll => "roll",
            DataMove::Revert => "revert",
        }
    }
}

/// What to roll.
#[derive(Debug, Clone)]
pub struct DataRoll {
    /// Roll or revert.
    pub how: DataMove,
    /// The version (id, unique prefix or label); by default each host's
    /// own rule, which must come to the same version on every host.
    pub version: Option<String>,
    /// `--reason`, for every host's ledger.
    pub reason: Option<String>,
    /// `--force`: past the live release's `[data] requires`.
    pub force: bool,
}

/// One host's data before and after.
#[derive(Debug, Clone, Serialize)]
pub struct Pointer {
    /// Live before the operation.
    pub from: Option<String>,
    /// Live after it, as far as this machine knows.
    pub live: Option<String>,
}

/// What `hoist fleet data-target` answers.
#[derive(Debug, Deserialize)]
struct Target {
    target: String,
    live: Option<String>,
}

/// Moves every host of the stage to one data version.
pub async fn roll(
    plan: &StagePlan,
    request: &DataRoll,
    progress: &dyn Progress,
) -> Result<StageRun<Pointer>, Failed<Pointer>> {
    let started = std::time::Instant::now();
    let action = format!("data {}", request.how.verb());
    let what = format!("{action} on stage `{}`", plan.stage_name);
    let opened = plan.open(&what, progress).await.map_err(|e| (e, None))?;
    let mut report = StageRun::new(plan, &opened.op, action);
    let result = Rolling {
        plan,
        request,
        op: &opened.op,
        progress,
    }
    .run(&opened.hosts, &mut report)
    .await;
    opened.close().await;
    report.settle(started, result)
}

struct Rolling<'a> {
    plan: &'a StagePlan,
    request: &'a DataRoll,
    op: &'a str,
    progress: &'a dyn Progress,
}

impl Rolling<'_> {
    async fn run(&self, hosts: &[Host], report: &mut StageRun<Pointer>) -> Result<(), FleetError> {
        let (target, before) = self.target(hosts, report).await?;
        report.version = Some(target.clone());
        let results = self
            .plan
            .each(hosts, |index, host| {
                self.move_one(host, before[index].as_deref(), &target)
            })
            .await;
        report.hosts = Vec::new();
        for ((host, result), from) in hosts.iter().zip(results).zip(&before) {
            report.hosts.push(match result {
                Ok(outcome) => HostRun::done(
                    host,
                    outcome,
                    Pointer {
                        from: from.clone(),
                        live: Some(target.clone()),
                    },
                ),
                Err(error) => {
                    self.progress.host(&host.name, "failed", &error.to_string());
                    HostRun {
                        detail: Some(Pointer {
                            from: from.clone(),
                            live: None,
                        }),
                        ..HostRun::failed(host, &error)
                    }
                }
            });
        }
        let failures = report.failures();
        if failures.is_empty() {
            return Ok(());
        }
        let (undone, not_undone) = self.put_back(hosts, &before, report).await;
        Err(Partial {
            action: format!("{} to `{target}`", report.action),
            failures,
            after: "put back the data live before",
            undone,
            not_undone,
            stage: self.plan.stage_name.clone(),
        }
        .into())
    }

    /// The one version every host goes to, and each host's live one.
    async fn target(
        &self,
        hosts: &[Host],
        report: &mut StageRun<Pointer>,
    ) -> Result<(String, Vec<Option<String>>), FleetError> {
        let mut args = vec!["fleet", "data-target"];
        if self.request.how == DataMove::Revert {
            args.push("--revert");
        }
        if let Some(version) = &self.request.version {
            args.push(version);
        }
        let answers = self
            .plan
            .each(hosts, |_, host| host.run::<Target>(&args))
            .await;
        let mut targets = Vec::new();
        let mut before = Vec::new();
        for (host, answer) in hosts.iter().zip(answers) {
            match answer {
                Ok(answer) => {
                    report.hosts.push(HostRun::done(
                        host,
                        "ready",
                        Pointer {
                            from: answer.live.clone(),
                            live: answer.live.clone(),
                        },
                    ));
                    targets.push((host.name.clone(), answer.target));
                    before.push(answer.live);
                }
                Err(error) => report.hosts.push(HostRun::failed(host, &error)),
            }
        }
        let failures = report.failures();
        if !failures.is_empty() {
            return Err(Partial::error(
                report.action.clone(),
                failures,
                "nothing was changed on any host",
                &self.plan.stage_name,
            ));
        }
        let first = targets[0].1.clone();
        if targets.iter().any(|(_, target)| *target != first) {
            return Err(FleetError::Disagree {
                stage: self.plan.stage_name.clone(),
                what: format!("the data version to {}", self.request.how.verb()),
                answers: targets,
                fix: format!("data roll --stage {} VERSION", self.plan.stage_name),
            });
        }
        Ok((first, before))
    }

    fn reason(&self, what: &str) -> String {
        let ours = format!(
            "fleet {} of stage `{}`{what}",
            self.op, self.plan.stage_name
        );
        match &self.request.reason {
            Some(reason) => format!("{reason} ({ours})"),
            None => ours,
        }
    }

    /// One host's roll or revert; `already-live` when it is there.
    async fn move_one(
        &self,
        host: &Host,
        from: Option<&str>,
        target: &str,
    ) -> Result<&'static str, FleetError> {
        if from == Some(target) {
            self.progress
                .host(&host.name, "done", &format!("already live {target}"));
            return Ok("already-live");
        }
        self.progress.host(&host.name, "roll", target);
        let reason = self.reason("");
        let mut args = match self.request.how {
            DataMove::Roll => vec!["data", "roll", target],
            DataMove::Revert => vec!["data", "revert", "--to", target],
        };
        args.extend(["--reason", &reason]);
        if self.request.force {
            args.push("--force");
        }
        host.run::<serde_json::Value>(&args).await?;
        self.progress
            .host(&host.name, "done", &format!("live {target}"));
        Ok("rolled")
    }

    /// Every host whose data moved goes back to what it had before.
    async fn put_back(
        &self,
        hosts: &[Host],
        before: &[Option<String>],
        report: &mut StageRun<Pointer>,
    ) -> (Vec<String>, Vec<(String, String)>) {
        let results = self
            .plan
            .each(hosts, |index, host| {
                self.put_back_one(host, before[index].as_deref())
            })
            .await;
        let mut undone = Vec::new();
        let mut not_undone = Vec::new();
        for ((host, result), run) in hosts.iter().zip(results).zip(&mut report.hosts) {
            match result {
                Ok(false) => {}
                Ok(true) => {
                    run.outcome = "put-back";
                    if let Some(pointer) = &mut run.detail {
                        pointer.live = pointer.from.clone();
                    }
                    undone.push(host.name.clone());
                }
                Err(why) => {
                    run.outcome = "not-put-back";
                    run.problem = Some(why.clone());
                    not_undone.push((host.name.clone(), why));
                }
            }
        }
        (undone, not_undone)
    }

    /// `Ok(true)` when the host's data moved and is back; `Ok(false)` when
    /// it never moved.
    async fn put_back_one(&self, host: &Host, from: Option<&str>) -> Result<bool, String> {
        #[derive(Deserialize)]
        struct Listed {
            id: String,
            live: bool,
        }
        let listed: Vec<Listed> = host
            .run(&["data", "list"])
            .await
            .map_err(|error| error.to_string())?;
        let live = listed.into_iter().find(|v| v.live).map(|v| v.id);
        if live.as_deref() == from {
            return Ok(false);
        }
        let Some(from) = from else {
            return Err("no data was live on it before; it keeps the new version".to_owned());
        };
        self.progress
            .host(&host.name, "rollback", &format!("data back to {from}"));
        let reason = self.reason(" put back");
        host.run::<serde_json::Value>(&["data", "roll", from, "--force", "--reason", &reason])
            .await
            .map_err(|error| error.to_string())?;
        self.progress
            .host(&host.name, "rollback", &format!("live {from}"));
        Ok(true)
    }
}
