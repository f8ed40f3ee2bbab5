//! What can go wrong across a fleet, each naming the host it happened on.

use hoist_error::Described;

/// A hoist error reported by a host, as its `--json` error object said it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteError {
    /// The host's stable error kind (`lock-held`, `verify-failed`, ...).
    pub kind: String,
    /// Its message.
    pub message: String,
    /// The command that gets out of it, to run on that host.
    pub hint: Option<String>,
}

/// A failure of a fleet operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// No such `[stages.NAME]`.
    #[error("no stage `{name}` in `hoist.toml` (stages: {known})")]
    UnknownStage {
        /// The name given.
        name: String,
        /// The stages there are.
        known: String,
    },
    /// ssh could not reach or log in to a host: nothing was changed on any.
    #[error("cannot reach `{host}` over ssh: {problem}")]
    Connect {
        /// The host as the stage names it.
        host: String,
        /// What ssh said.
        problem: String,
        /// The command that shows the same failure by hand.
        ssh: String,
    },
    /// The connection to a host dropped during `step`.
    #[error("lost the ssh connection to `{host}` during {step}")]
    Disconnected {
        /// The host.
        host: String,
        /// What was running.
        step: String,
    },
    /// A host runs no hoist, or another build of it.
    #[error("`{host}` runs {theirs}, this machine runs {ours}: a fleet runs one hoist")]
    VersionMismatch {
        /// The host.
        host: String,
        /// What the host has.
        theirs: String,
        /// What the deploying machine has.
        ours: String,
        /// The stage, for the hint.
        stage: String,
    },
    /// A host answered with an error.
    #[error("`{host}`: {}", error.message)]
    Remote {
        /// The host.
        host: String,
        /// What it said.
        error: RemoteError,
        /// How to run a command on that host (`ssh -F FILE host`).
        ssh: String,
    },
    /// A host's hoist printed something that is not its JSON answer.
    #[error("`{host}` answered `{command}` with something that is not hoist's JSON: {output}")]
    Garbled {
        /// The host.
        host: String,
        /// The command.
        command: String,
        /// What it printed (its tail).
        output: String,
    },
    /// The stage phase failed on some hosts: nothing was switched anywhere.
    #[error(
        "staging failed on {}; nothing was switched on any host",
        list(failures)
    )]
    StageFailed {
        /// Each failing host and why.
        failures: Vec<(String, String)>,
    },
    /// A wave failed, and every host this operation had switched was put
    /// back, but those that had nothing to go back to (`kept`).
    #[error("{problem}; {}", undone(rolled_back, not_rolled_back, kept, stage))]
    RolledBack {
        /// What failed.
        problem: String,
        /// Hosts switched back.
        rolled_back: Vec<String>,
        /// Hosts that could not be switched back, and why.
        not_rolled_back: Vec<(String, String)>,
        /// Hosts that stay switched, and the release they run: the stage's
        /// first deploy left them no release before to go back to.
        kept: Vec<(String, String)>,
        /// The stage, for the hint.
        stage: String,
    },
    /// `hoist restart --stage` stopped at a host whose restart failed;
    /// no release changed, so nothing was rolled back.
    #[error("{problem}; stopped there, nothing to roll back (the release did not change); restarted: {}; not restarted: {}{}", or_none(restarted), or_none(not_reached), if drained.is_empty() { String::new() } else { format!("; still drained at the balancer: {}", or_none(drained)) })]
    RestartStopped {
        /// What failed, on which host.
        problem: String,
        /// Hosts restarted before it.
        restarted: Vec<String>,
        /// Hosts never reached.
        not_reached: Vec<String>,
        /// Failed hosts left out of rotation (not healthy).
        drained: Vec<String>,
        /// The stage, for the hint.
        stage: String,
    },
    /// A local file (the artifact, the ssh config) could not be used.
    #[error("{action} `{}`: {cause}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why it failed.
        cause: std::io::Error,
    },
    /// The artifact could not be read.
    #[error(transparent)]
    Store(#[from] hoist_store::StoreError),
    /// A host still lacked files after every transfer shipping allows.
    #[error("`{host}` still lacks {missing} file(s) of the release after shipping them twice; its local copies keep failing their digests")]
    ShipIncomplete {
        /// The host.
        host: String,
        /// How many contents it still lacks.
        missing: usize,
    },
    /// `--from-stage`: the other stage runs no one release, or not the
    /// artifact given.
    #[error("cannot deploy what stage `{from}` runs: {problem}")]
    FromStage {
        /// The other stage.
        from: String,
        /// Why.
        problem: String,
    },
    /// The stage's hosts disagree in a way the operation cannot settle alone.
    #[error("stage `{stage}`: {problem}")]
    Drift {
        /// The stage.
        stage: String,
        /// What differs.
        problem: String,
        /// The command that settles it, when there is one.
        fix: Option<String>,
    },
    /// A host has an interrupted operation awaiting `hoist recover`.
    #[error("`{host}`: {what}; nothing was changed on any host until it is recovered")]
    RecoveryPending {
        /// The host.
        host: String,
        /// What stopped, and where.
        what: String,
        /// The command that recovers it, run from here.
        recover: String,
    },
    /// The balancer refused or failed.
    #[error(transparent)]
    Balancer(#[from] hoist_balancer::BalancerError),
    /// Hosts answer differently where they must agree (the data version
    /// a stage's roll goes to): nothing was changed.
    #[error(
        "the hosts of stage `{stage}` disagree on {what}: {}; nothing was changed",
        list(answers)
    )]
    Disagree {
        /// The stage.
        stage: String,
        /// What they disagree on.
        what: String,
        /// Each host's answer.
        answers: Vec<(String, String)>,
        /// The command that settles it (`data roll --stage NAME VERSION`).
        fix: String,
    },
    /// A step every host of a stage takes together (a data load or roll,
    /// maintenance, a prune) failed on some of them.
    #[error("{0}")]
    NotTogether(Box<crate::each::Partial>),
    /// A data version could not be read or checked here.
    #[error(transparent)]
    Data(#[from] hoist_data::DataError),
    /// Interrupted (Ctrl-C) before anything was switched.
    #[error("interrupted; nothing was switched")]
    Interrupted,
    /// A host still runs a release on the old side of the open expansion,
    /// whose old shape a contract drops: nothing was changed.
    #[error("cannot {doing} on stage `{stage}`: `{migration}` is open and {} still on its old shape, which its contract drops; nothing was changed", hosts.iter().map(|(host, releases)| format!("`{host}` runs {releases}")).collect::<Vec<_>>().join(", "))]
    OldSideServes {
        /// The stage.
        stage: String,
        /// The open expansion.
        migration: String,
        /// What was asked (`complete`, `deploy X, which brings Y`).
        doing: String,
        /// Each host and its old-side releases.
        hosts: Vec<(String, String)>,
    },
    /// A host still runs a release on the new side of the open expansion,
    /// whose view schema an abort drops: nothing was changed.
    #[error("cannot abort `{migration}` on stage `{stage}`: {} on its new shape, which the abort drops; nothing was changed. Roll those hosts back to a release on the old side first (`hoist rollback --stage {stage}`)", hosts.iter().map(|(host, releases)| format!("`{host}` runs {releases}")).collect::<Vec<_>>().join(", "))]
    NewSideServes {
        /// The stage.
        stage: String,
        /// The open expansion.
        migration: String,
        /// Each host and its new-side releases.
        hosts: Vec<(String, String)>,
    },
}

pub(crate) fn list(failures: &[(String, String)]) -> String {
    failures
        .iter()
        .map(|(host, why)| format!("`{host}` ({why})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a failed wave run did about the hosts it had switched.
fn undone(
    rolled_back: &[String],
    not_rolled_back: &[(String, String)],
    kept: &[(String, String)],
    stage: &str,
) -> String {
    let mut parts = Vec::new();
    if !rolled_back.is_empty() {
        parts.push(format!(
            "rolled back {} to its previous release",
            or_none(rolled_back)
        ));
    }
    if !kept.is_empty() {
        let on: Vec<String> = kept
            .iter()
            .map(|(host, live)| format!("`{host}` stays switched to `{live}`"))
            .collect();
        parts.push(format!(
            "{}: not rolled back, as this first deploy left no release before it to go back to; once it passes the balancer's health check, `hoist deploy --stage {stage}` again finishes the stage",
            on.join(", ")
        ));
    }
    if !not_rolled_back.is_empty() {
        parts.push(format!("NOT rolled back: {}", list(not_rolled_back)));
    }
    if parts.is_empty() {
        return "no host had stayed switched, so none needed rolling back".to_owned();
    }
    parts.join("; ")
}

/// "`web1`, `web2`", or "none".
fn or_none(hosts: &[String]) -> String {
    if hosts.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<String> = hosts.iter().map(|host| format!("`{host}`")).collect();
    names.join(", ")
}

impl FleetError {
    /// An I/O failure on `path`.
    #[allow(dead_code)]
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<std::path::PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> FleetError {
        let path = path.into();
        move |cause| FleetError::Io {
            action,
            path,
            cause,
        }
    }

    /// The host this error is about, when it is about one.
    pub fn host(&self) -> Option<&str> {
        match self {
            FleetError::Connect { host, .. }
            | FleetError::Disconnected { host, .. }
            | FleetError::VersionMismatch { host, .. }
            | FleetError::Remote { host, .. }
            | FleetError::Garbled { host, .. }
            | FleetError::ShipIncomplete { host, .. } => Some(host),
            _ => None,
        }
    }
}

impl Described for FleetError {
    fn kind(&self) -> &'static str {
        match self {
            FleetError::UnknownStage { .. } => "unknown-stage",
            FleetError::Connect { .. } => "ssh-failed",
            FleetError::Disconnected { .. } => "ssh-disconnected",
            FleetError::VersionMismatch { .. } => "hoist-version-mismatch",
            FleetError::Remote { error, .. } if error.kind == "lock-held" => "lock-held",
            FleetError::Remote { .. } => "host-failed",
            FleetError::Garbled { .. } => "host-garbled",
            FleetError::StageFailed { .. } => "stage-failed",
            FleetError::RolledBack { .. } => "fleet-rolled-back",
            FleetError::RestartStopped { .. } => "fleet-restart-stopped",
            FleetError::Io { cause, .. } => hoist_error::io_kind(cause),
            FleetError::Store(error) => error.kind(),
            FleetError::ShipIncomplete { .. } => "ship-incomplete",
            FleetError::Balancer(error) => error.kind(),
            FleetError::FromStage { .. } => "from-stage-mismatch",
            FleetError::Drift { .. } => "stage-drift",
            FleetError::RecoveryPending { .. } => "recovery-pending",
            FleetError::Disagree { .. } => "fleet-disagree",
            FleetError::NotTogether(_) => "fleet-partial",
            FleetError::Data(error) => error.kind(),
            FleetError::Interrupted => "interrupted",
            FleetError::OldSideServes { .. } => "contract-refused",
            FleetError::NewSideServes { .. } => "abort-refused",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            FleetError::Connect { ssh, .. } => Some(format!("{ssh} true")),
            FleetError::VersionMismatch { stage, .. } => {
                hoist_error::command(&format!("setup --stage {stage}"))
            }
            // The host's own way out, run on that host.
            FleetError::Remote { error, ssh, .. } => {
                error.hint.as_ref().map(|hint| format!("{ssh} {hint}"))
            }
            FleetError::RolledBack { stage, .. } | FleetError::RestartStopped { stage, .. } => {
                hoist_error::command(&format!("status --stage {stage}"))
            }
            FleetError::Store(error) => error.hint(),
            FleetError::Balancer(error) => error.hint(),
            FleetError::Drift { fix: Some(fix), .. } => hoist_error::command(fix),
            FleetError::OldSideServes { stage, .. } => Some(format!(
                "deploy the release with the migration to every host (`hoist deploy --stage {stage} ARTIFACT`) and wait for the old one's rollback window, or give the new shape up: `hoist rollback --stage {stage}` to the release before it, then `hoist db abort --stage {stage}`"
            )),
            FleetError::NewSideServes { stage, .. } => {
                hoist_error::command(&format!("rollback --stage {stage}"))
            }
            FleetError::RecoveryPending { recover, .. } => Some(recover.clone()),
            FleetError::Drift { stage, .. } => {
                hoist_error::command(&format!("status --stage {stage}"))
            }
            FleetError::Disagree { fix, .. } => hoist_error::command(fix),
            FleetError::NotTogether(partial) => {
                hoist_error::command(&format!("status --stage {}", partial.stage))
            }
            FleetError::Data(error) => error.hint(),
            FleetError::FromStage { from, .. } => {
                hoist_error::command(&format!("status --stage {from}"))
            }
            _ => None,
        }
    }
}
