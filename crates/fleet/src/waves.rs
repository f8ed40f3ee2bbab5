//! The switch phase across a stage: waves of hosts, each host drained at
//! the balancer, switched by its own hoist, health-checked and put back;
//! then a watch of the wave before the next. On any failure every host this
//! operation switched goes back, last first, through the same steps.
//!
//! A restart in place ([`How::Restart`]) goes through the same drain,
//! health, ready and watch, but a failure stops it without rolling back:
//! the release never changed, so there is nothing to go back to.

use crate::{FleetError, Host, Progress, Reach};
use hoist_balancer::{Balancer, Traffic};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a host gets to its target release.
#[derive(Debug, Clone)]
pub enum How {
    /// `hoist deploy ARTIFACT` of the staged artifact on the host.
    Deploy {
        /// The artifact's path on the host.
        artifact: String,
    },
    /// `hoist rollback --to ID`.
    Rollback,
    /// `hoist restart`: the live release started afresh (`to` is it).
    Restart,
}

/// One host's move.
#[derive(Debug, Clone)]
pub struct Move {
    /// The host.
    pub host: Host,
    /// Live before.
    pub from: Option<String>,
    /// Live after.
    pub to: String,
    /// How.
    pub how: How,
}

/// What happened to one host, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct HostOutcome {
    /// The host.
    pub host: String,
    /// Live before the operation.
    pub from: Option<String>,
    /// What it aimed at.
    pub to: String,
    /// Live after it, as the host said last.
    pub live: Option<String>,
    /// `switched`, `restarted`, `already-live`, `rolled-back`,
    /// `not-rolled-back`, `failed`, `not-reached` (a later wave, never started).
    pub outcome: &'static str,
    /// Which wave it was in (1-based).
    pub wave: usize,
    /// Why it failed, when it did.
    pub problem: Option<String>,
}

/// How undoing one host's move went.
enum Undone {
    /// Switched back to this release.
    Back(String),
    /// Still on its release before (its own hoist switched it back).
    StillThere,
    /// It had no release before this operation (a first deploy): nothing
    /// to go back to; what it runs now.
    NothingBefore(Option<String>),
}

/// Everything a wave run needs.
pub struct Waves<'a> {
    /// The stage's settings.
    pub stage: &'a hoist_config::Stage,
    /// The stage's name.
    pub stage_name: &'a str,
    /// How hosts are reached again after a lost connection.
    pub reach: Arc<Reach>,
    /// The balancer, if the stage has one.
    pub balancer: Option<Arc<dyn Balancer>>,
    /// The fleet operation id.
    pub op: &'a str,
    /// Why (`--reason`), passed to each host's ledger.
    pub reason: Option<String>,
    /// Set by Ctrl-C: the next check point fails the run and rolls back.
    pub interrupted: Arc<AtomicBool>,
    /// Progress.
    pub progress: &'a dyn Progress,
}

impl<'a> Waves<'a> {
    /// The wave runner of operation `op` on `target`'s stage: its settings,
    /// how its hosts are reached again, and its balancer when one was
    /// connected. Deploy, rollback and restart all run their waves so.
    pub(crate) fn on(
        target: &'a crate::open::Target,
        balancer: Option<&crate::balance::Connected>,
        op: &'a str,
        reason: Option<String>,
        interrupted: Arc<AtomicBool>,
        progress: &'a dyn Progress,
    ) -> Waves<'a> {
        Waves {
            stage: &target.stage,
            stage_name: &target.stage_name,
            reach: target.reach.clone(),
            balancer: balancer.map(|connected| connected.balancer.clone()),
            op,
            reason,
            interrupted,
            progress,
        }
    }
}

/// The host names of each wave of `plan` over `moves`, as reports list them.
pub(crate) fn wave_names(moves: &[Move], plan: &[Vec<usize>]) -> Vec<Vec<String>> {
    plan.iter()
        .map(|wave| wave.iter().map(|&i| moves[i].host.name.clone()).collect())
        .collect()
}

impl Waves<'_> {
    /// Moves every host, wave by wave. On failure rolls back every host it
    /// switched and errors with [`FleetError::RolledBack`].
    pub async fn run(
        &self,
        mut moves: Vec<Move>,
        plan: &[Vec<usize>],
    ) -> (Vec<HostOutcome>, Result<(), FleetError>) {
        let mut outcomes: Vec<HostOutcome> = moves
            .iter()
            .map(|mv| HostOutcome {
                host: mv.host.name.clone(),
                from: mv.from.clone(),
                to: mv.to.clone(),
                live: mv.from.clone(),
                outcome: "not-reached",
                wave: 0,
                problem: None,
            })
            .collect();
        let mut touched: Vec<usize> = Vec::new();
        for (number, wave) in plan.iter().enumerate() {
            let number = number + 1;
            let names: Vec<&str> = wave.iter().map(|&i| moves[i].host.name.as_str()).collect();
            self.progress.note(&format!(
                "wave {number}/{}: {}",
                plan.len(),
                names.join(", ")
            ));
            for &index in wave {
                outcomes[index].wave = number;
            }
            // Behind a balancer, never every host out of rotation at once:
            // at most all but one drained at the same time.
            let out_at_once = match self.balancer {
                Some(_) => self.stage.hosts.len().saturating_sub(1).max(1),
                None => wave.len().max(1),
            };
            let gate = tokio::sync::Semaphore::new(out_at_once);
            let results = futures_util::future::join_all(
                moves
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| wave.contains(index))
                    .map(|(_, mv)| async {
                        let _out = gate.acquire().await.expect("the gate is never closed");
                        self.switch_one(mv).await
                    }),
            )
            .await;
            let mut failure = None;
            for (&index, result) in wave.iter().zip(results) {
                touched.push(index);
                match result {
                    Ok(()) if matches!(moves[index].how, How::Restart) => {
                        outcomes[index].outcome = "restarted";
                    }
                    Ok(()) => {
                        outcomes[index].outcome = "switched";
                        outcomes[index].live = Some(moves[index].to.clone());
                    }
                    Err(problem) => {
                        outcomes[index].outcome = "failed";
                        outcomes[index].problem = Some(problem.clone());
                        failure.get_or_insert(format!(
                            "wave {number}: `{}` failed: {problem}",
                            moves[index].host.name
                        ));
                    }
                }
            }
            if failure.is_none() {
                let switched: Vec<&Host> = touched.iter().map(|&i| &moves[i].host).collect();
                failure = self.watch(number, &switched).await.err();
            }
            if let Some(problem) = failure {
                self.progress.warn(&problem);
                if moves.iter().all(|mv| matches!(mv.how, How::Restart)) {
                    let error = self.stop_restart(&moves, &mut outcomes, problem).await;
                    return (outcomes, Err(error));
                }
                let error = self
                    .roll_back(&mut moves, &touched, &mut outcomes, problem)
                    .await;
                return (outcomes, Err(error));
            }
        }
        (outcomes, Ok(()))
    }

    /// Puts back in rotation every host an earlier fleet operation drained
    /// and never readied (it died mid-switch), once the host is healthy; a
    /// host that is not stays drained, with a warning.
    pub async fn readmit(&self, hosts: &[Host]) {
        if self.balancer.is_none() {
            return;
        }
        #[derive(serde::Deserialize)]
        struct Drained {
            fleet_drained: Option<String>,
        }
        for host in hosts {
            let Ok(Drained {
                fleet_drained: Some(op),
            }) = host.run::<Drained>(&["status"]).await
            else {
                continue;
            };
            match self.health(host).await {
                Ok(()) => match self.ready(host).await {
                    Ok(()) => self.progress.note(&format!(
                        "`{}` was left drained by fleet operation `{op}`; it is healthy and back in rotation",
                        host.name
                    )),
                    Err(problem) => self.progress.warn(&format!(
                        "`{}` was left drained by `{op}` and could not be readied: {problem}",
                        host.name
                    )),
                },
                Err(problem) => self.progress.warn(&format!(
                    "`{}` was left drained by fleet operation `{op}` and stays drained: {problem}",
                    host.name
                )),
            }
        }
    }

    fn checkpoint(&self) -> Result<(), String> {
        if self.interrupted.load(Ordering::SeqCst) {
            return Err("interrupted (Ctrl-C)".to_owned());
        }
        Ok(())
    }

    /// Drain, switch, health, ready: one host. `Err` says why it failed.
    async fn switch_one(&self, mv: &Move) -> Result<(), String> {
        self.checkpoint()?;
        let host = &mv.host;
        self.drain(host).await?;
        self.progress.host(&host.name, "switch", &mv.to);
        let reason = self.reason_arg(&format!("fleet {} of stage `{}`", self.op, self.stage_name));
        let result = match &mv.how {
            How::Deploy { artifact } => {
                // The stage settled the open expansion before the waves: a
                // host must not contract it on its own while another host
                // still runs the old side.
                let args = ["deploy", artifact, "--no-contract", "--reason", &reason];
                host.run::<serde_json::Value>(&args).await
            }
            How::Rollback => {
                host.run::<serde_json::Value>(&["rollback", "--to", &mv.to, "--reason", &reason])
                    .await
            }
            How::Restart => {
                host.run::<serde_json::Value>(&["restart", "--reason", &reason])
                    .await
            }
        };
        result.map_err(|error| error.to_string())?;
        self.progress.host(&host.name, "health", "probing");
        self.health(host).await?;
        self.ready(host).await?;
        self.progress
            .host(&host.name, "done", &format!("live {}", mv.to));
        Ok(())
    }

    fn reason_arg(&self, default: &str) -> String {
        match &self.reason {
            Some(reason) => format!("{reason} ({default})"),
            None => default.to_owned(),
        }
    }

    async fn drain(&self, host: &Host) -> Result<(), String> {
        let Some(balancer) = self.balancer.clone() else {
            return Ok(());
        };
        if self.stage.hosts.len() == 1 {
            // Draining the only host would leave nobody to answer: it
            // switches in rotation, and its own restart must keep serving.
            self.progress.host(
                &host.name,
                "drain",
                "the stage's only host stays in rotation (its restart must not drop requests)",
            );
            return Ok(());
        }
        self.progress.host(&host.name, "drain", "at the balancer");
        // Noted on the host first: if this process dies before `ready`,
        // the next fleet operation and `hoist status` know who drained it.
        host.run::<serde_json::Value>(&["fleet", "drained", "--mark", self.op])
            .await
            .map_err(|error| error.to_string())?;
        let name = host.name.clone();
        let timeout = self.stage.drain_timeout;
        let idle = tokio::task::spawn_blocking(move || {
            balancer.drain(&name)?;
            balancer.wait_idle(&name, timeout)
        })
        .await
        .expect("balancer calls do not panic")
        .map_err(|error| error.to_string())?;
        self.progress.host(
            &host.name,
            "drain",
            &format!("idle after {:.1}s", idle.waited.as_secs_f64()),
        );
        Ok(())
    }

    async fn ready(&self, host: &Host) -> Result<(), String> {
        let Some(balancer) = self.balancer.clone() else {
            return Ok(());
        };
        if self.stage.hosts.len() == 1 {
            return Ok(()); // never drained (see `drain`)
        }
        self.progress
            .host(&host.name, "ready", "asking the balancer to put it back");
        let name = host.name.clone();
        let within = self.stage.drain_timeout;
        tokio::task::spawn_blocking(move || {
            balancer.ready(&name).map_err(|error| error.to_string())?;
            // Back in rotation means its health check there passes again
            // (a restart may have failed a few while it was drained).
            let deadline = Instant::now() + within;
            while balancer.status(&name).map_err(|error| error.to_string())?
                == hoist_balancer::ServerStatus::Down
            {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "`{name}` stays DOWN at the balancer after its switch (its health check there fails)"
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        })
        .await
        .expect("balancer calls do not panic")?;
        // Said only now: the balancer no longer reports it DOWN.
        self.progress.host(&host.name, "ready", "back in rotation");
        host.run::<serde_json::Value>(&["fleet", "drained", "--clear"])
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    async fn health(&self, host: &Host) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Health {
            ok: bool,
            detail: String,
        }
        let health: Health = host
            .run(&["fleet", "health", "--within", "5s"])
            .await
            .map_err(|error| error.to_string())?;
        if health.ok {
            Ok(())
        } else {
            Err(format!("health: {}", health.detail))
        }
    }

    /// Watches the switched hosts' health and the balancer's error rate for
    /// the stage's `watch`.
    async fn watch(&self, wave: usize, switched: &[&Host]) -> Result<(), String> {
        let watch = self.stage.watch;
        if watch.is_zero() {
            return self.checkpoint();
        }
        self.progress.note(&format!(
            "wave {wave}: watching for {}s",
            watch.as_secs_f64()
        ));
        let names: Vec<String> = switched.iter().map(|host| host.name.clone()).collect();
        let before = self.traffic(&names).await?;
        let deadline = Instant::now() + watch;
        loop {
            self.checkpoint()?;
            let probes =
                futures_util::future::join_all(switched.iter().map(|host| self.health(host))).await;
            for (host, probe) in switched.iter().zip(probes) {
                probe.map_err(|problem| format!("`{}` during the watch: {problem}", host.name))?;
            }
            self.balancer_view(&names).await?;
            if let (Some(before), Some(now)) = (&before, self.traffic(&names).await?) {
                let window = now.since(before);
                if let Some(rate) = hoist_balancer::error_rate(before, &now) {
                    // Judged early only on enough requests; at the end on any.
                    let enough = window.backend.requests >= 50 || Instant::now() >= deadline;
                    if enough && rate > self.stage.max_error_rate {
                        return Err(format!(
                            "error rate {:.2}% over `max_error_rate` {:.2}% ({} of {} requests) during the watch of wave {wave}",
                            rate * 100.0,
                            self.stage.max_error_rate * 100.0,
                            window.backend.responses_5xx + window.backend.connection_errors,
                            window.backend.requests
                        ));
                    }
                }
            }
            if Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1).min(deadline - Instant::now())).await;
        }
    }

    /// A switched host the balancer's own health check takes out (DOWN)
    /// fails the watch: it sends that host no traffic, so no error rate
    /// would ever show it.
    async fn balancer_view(&self, names: &[String]) -> Result<(), String> {
        let Some(balancer) = self.balancer.clone() else {
            return Ok(());
        };
        let names = names.to_vec();
        tokio::task::spawn_blocking(move || {
            for name in &names {
                let status = balancer.status(name).map_err(|error| error.to_string())?;
                if status == hoist_balancer::ServerStatus::Down {
                    return Err(format!(
                        "`{name}` is DOWN at the balancer during the watch (its health check there fails)"
                    ));
                }
            }
            Ok(())
        })
        .await
        .expect("balancer calls do not panic")
    }

    async fn traffic(&self, names: &[String]) -> Result<Option<Traffic>, String> {
        let Some(balancer) = self.balancer.clone() else {
            return Ok(None);
        };
        let names = names.to_vec();
        tokio::task::spawn_blocking(move || balancer.traffic(&names))
            .await
            .expect("balancer calls do not panic")
            .map(Some)
            .map_err(|error| error.to_string())
    }

    /// A restart that failed on a host stops there: nothing is rolled
    /// back (no release changed). The failed host goes back in rotation
    /// if it still answers health (its own restart keeps the old process
    /// serving when the new one fails), else it stays drained.
    async fn stop_restart(
        &self,
        moves: &[Move],
        outcomes: &mut [HostOutcome],
        problem: String,
    ) -> FleetError {
        let mut drained = Vec::new();
        for (mv, outcome) in moves.iter().zip(outcomes.iter_mut()) {
            if outcome.outcome != "failed" {
                continue;
            }
            let back = match self.health(&mv.host).await {
                Ok(()) => self.ready(&mv.host).await,
                Err(problem) => Err(problem),
            };
            if let Err(why) = back {
                self.progress
                    .warn(&format!("`{}` stays out of rotation: {why}", mv.host.name));
                drained.push(mv.host.name.clone());
            }
        }
        let names = |outcome: &str| -> Vec<String> {
            outcomes
                .iter()
                .filter(|o| o.outcome == outcome)
                .map(|o| o.host.clone())
                .collect()
        };
        FleetError::RestartStopped {
            problem,
            restarted: names("restarted"),
            not_reached: names("not-reached"),
            drained,
            stage: self.stage_name.to_owned(),
        }
    }

    /// Every touched host back where it was, last first.
    async fn roll_back(
        &self,
        moves: &mut [Move],
        touched: &[usize],
        outcomes: &mut [HostOutcome],
        problem: String,
    ) -> FleetError {
        let mut rolled_back = Vec::new();
        let mut not_rolled_back = Vec::new();
        let mut kept = Vec::new();
        for &index in touched.iter().rev() {
            let name = moves[index].host.name.clone();
            let step = match moves[index].from {
                Some(_) => "putting the previous release back",
                None => "none: it had no release before this one",
            };
            self.progress.host(&name, "rollback", step);
            match self.undo(&mut moves[index]).await {
                Ok(Undone::NothingBefore(live)) => {
                    // The stage's first deploy: no release before it to go
                    // back to. Where it switched, it stays switched, and
                    // is said to be (a failed host stays `failed`).
                    outcomes[index].live = live.clone();
                    if let Some(live) = live {
                        let kept_on = format!(
                            "it stays on `{live}`, not rolled back: it had no release before this one"
                        );
                        outcomes[index].problem = Some(match outcomes[index].problem.take() {
                            Some(problem) => format!("{problem}; {kept_on}"),
                            None => kept_on,
                        });
                        kept.push((name, live));
                    }
                }
                Ok(Undone::Back(live)) => {
                    outcomes[index].outcome = "rolled-back";
                    outcomes[index].live = Some(live);
                    rolled_back.push(name);
                }
                Ok(Undone::StillThere) => {
                    // It never stayed switched (its own hoist switched it
                    // back): nothing to undo, and it is back in rotation.
                    outcomes[index].live = moves[index].from.clone();
                    if outcomes[index].outcome == "switched" {
                        outcomes[index].outcome = "rolled-back";
                    }
                }
                Err(why) => {
                    outcomes[index].outcome = "not-rolled-back";
                    outcomes[index].problem = Some(why.clone());
                    not_rolled_back.push((name, why));
                }
            }
        }
        FleetError::RolledBack {
            problem,
            rolled_back,
            not_rolled_back,
            kept,
            stage: self.stage_name.to_owned(),
        }
    }

    /// One host back to its `from`.
    async fn undo(&self, mv: &mut Move) -> Result<Undone, String> {
        if !mv.host.alive().await {
            let again = Host::connect(&mv.host.name, self.reach.clone())
                .await
                .map_err(|error| error.to_string())?;
            mv.host = again.in_op(self.op);
        }
        let host = mv.host.clone();
        let live = self.live_when_free(&host).await?;
        let Some(from) = mv.from.clone() else {
            return Ok(Undone::NothingBefore(live));
        };
        if live.as_deref() == Some(from.as_str()) {
            self.ready(&host).await?;
            return Ok(Undone::StillThere);
        }
        self.drain(&host).await?;
        let reason = self.reason_arg(&format!(
            "fleet {} of stage `{}` rolled back",
            self.op, self.stage_name
        ));
        host.run::<serde_json::Value>(&["rollback", "--to", &from, "--reason", &reason])
            .await
            .map_err(|error| error.to_string())?;
        self.health(&host).await?;
        self.ready(&host).await?;
        self.progress
            .host(&host.name, "rollback", &format!("live {from}"));
        Ok(Undone::Back(from))
    }

    /// The host's live release once no operation holds its deploy lock (a
    /// switch cut off with its ssh connection goes on to its end there).
    async fn live_when_free(&self, host: &Host) -> Result<Option<String>, String> {
        #[derive(serde::Deserialize)]
        struct Status {
            live: Option<String>,
            locked_by: Option<serde_json::Value>,
        }
        let deadline = Instant::now() + self.stage.drain_timeout + Duration::from_secs(60);
        loop {
            let status: Status = host
                .run(&["status"])
                .await
                .map_err(|error| error.to_string())?;
            if status.locked_by.is_none() || Instant::now() >= deadline {
                return Ok(status.live);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
