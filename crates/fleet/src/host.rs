//! One host of a stage: a multiplexed OpenSSH connection, reused for every
//! step, and the host's own hoist run over it with `--json`.
//!
//! The connection is OpenSSH's own (ControlMaster, through the `openssh`
//! crate), so `~/.ssh/config`, the stage's `ssh_config`, known_hosts,
//! agents and jump hosts behave exactly as they do for `ssh`. Nothing
//! listens on the network for hoist.

use crate::{FleetError, RemoteError};
use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How every host of a stage is reached.
#[derive(Debug, Clone)]
pub struct Reach {
    /// `ssh -F` file, if the stage names one.
    pub ssh_config: Option<PathBuf>,
    /// Host key policy.
    pub known_hosts: hoist_config::KnownHosts,
    /// hoist's path on the hosts.
    pub hoist: String,
    /// The site root on the hosts.
    pub root: PathBuf,
    /// The stage's name, for hints.
    pub stage: String,
}

impl Reach {
    /// The reach of stage `name`, whose `hoist.toml` is in `base`.
    pub fn of(name: &str, stage: &hoist_config::Stage, base: &Path) -> Reach {
        Reach {
            stage: name.to_owned(),
            ssh_config: stage.ssh_config_in(base),
            known_hosts: stage.known_hosts,
            hoist: stage.hoist.clone(),
            root: stage.root.clone(),
        }
    }

    /// `ssh [-F FILE] [-p PORT] HOST`: how a person runs the same by hand
    /// (plain `ssh` takes no `host:port`).
    pub fn ssh(&self, host: &str) -> String {
        let config = match &self.ssh_config {
            Some(file) => format!(" -F {}", file.display()),
            None => String::new(),
        };
        let url = destination(host);
        let target = match url
            .strip_prefix("ssh://")
            .and_then(|rest| rest.rsplit_once(':'))
        {
            Some((login, port)) => format!("-p {port} {login}"),
            None => host.to_owned(),
        };
        format!("ssh{config} {target}")
    }

    fn builder(&self) -> SessionBuilder {
        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(match self.known_hosts {
                hoist_config::KnownHosts::Strict => KnownHosts::Strict,
                hoist_config::KnownHosts::AcceptNew => KnownHosts::Add,
            })
            .connect_timeout(Duration::from_secs(10))
            // A host that stops answering is noticed within ~15 s, not at
            // the TCP timeout minutes later.
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(std::env::temp_dir())
            // If this process dies, the master goes once idle; commands it
            // is running on hosts finish first.
            .control_persist(openssh::ControlPersist::IdleFor(
                std::num::NonZeroUsize::new(60).expect("60 is not zero"),
            ));
        if let Some(file) = &self.ssh_config {
            builder.config_file(file);
        }
        builder
    }
}

/// A connected host.
#[derive(Debug, Clone)]
pub struct Host {
    /// The host as the stage names it.
    pub name: String,
    session: Arc<Session>,
    reach: Arc<Reach>,
    /// The fleet operation every changing command runs under.
    op: Option<String>,
}

/// `user@host:port` as the `ssh://` form ssh's own parser wants; aliases
/// and `user@host` go as they are.
fn destination(host: &str) -> String {
    let (_, rest) = host.rsplit_once('@').unwrap_or(("", host));
    match rest.rsplit_once(':') {
        Some((_, port)) if !rest.contains('[') && port.parse::<u16>().is_ok() => {
            format!("ssh://{host}")
        }
        _ => host.to_owned(),
    }
}

impl Host {
    /// Connects to `name`. Fails before anything changes for an unknown
    /// host, a refused key or a changed host key, with ssh's own words.
    pub async fn connect(name: &str, reach: Arc<Reach>) -> Result<Host, FleetError> {
        let session = reach
            .builder()
            .connect_mux(destination(name))
            .await
            .map_err(|error| FleetError::Connect {
                host: name.to_owned(),
                problem: chain(&error),
                ssh: reach.ssh(name),
            })?;
        Ok(Host {
            name: name.to_owned(),
            session: Arc::new(session),
            reach,
            op: None,
        })
    }

    /// This host, running its commands as part of fleet operation `op`.
    pub fn in_op(mut self, op: &str) -> Host {
        self.op = Some(op.to_owned());
        self
    }

    /// `ssh [-F FILE] HOST`, for hints.
    pub fn ssh(&self) -> String {
        self.reach.ssh(&self.name)
    }

    /// The site root on the host.
    pub fn root(&self) -> &Path {
        &self.reach.root
    }

    /// hoist's path on the host.
    pub fn hoist_path(&self) -> &str {
        &self.reach.hoist
    }

    /// `hoist --root ROOT --json [--fleet-op ID] ARGS`, from `/` so no
    /// stray `hoist.toml` in a login directory is read.
    pub fn command(&self, args: &[&str]) -> openssh::OwningCommand<Arc<Session>> {
        let mut command = Session::to_command(self.session.clone(), "env");
        command
            .args(["-C", "/", self.reach.hoist.as_str(), "--json", "--root"])
            .arg(self.reach.root.to_string_lossy())
            .args(args);
        if let Some(op) = &self.op {
            command.args(["--fleet-op", op.as_str()]);
        }
        command
    }

    /// Any program on the host (setup's `install`, `uname`), not hoist.
    pub fn raw(&self, program: &str) -> openssh::OwningCommand<Arc<Session>> {
        Session::to_command(self.session.clone(), program.to_owned())
    }

    /// Runs hoist `args` on the host and reads its JSON answer.
    pub async fn run<T: DeserializeOwned>(&self, args: &[&str]) -> Result<T, FleetError> {
        let step = args.first().copied().unwrap_or("hoist").to_owned();
        let output = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|error| self.lost(&step, error))?;
        self.answer(&args.join(" "), output)
    }

    /// Reads a finished hoist command's answer: its JSON result, or its
    /// JSON error as [`FleetError::Remote`].
    pub fn answer<T: DeserializeOwned>(
        &self,
        command: &str,
        output: std::process::Output,
    ) -> Result<T, FleetError> {
        let garbled = |output: &std::process::Output| FleetError::Garbled {
            host: self.name.clone(),
            command: command.to_owned(),
            output: tail(&output.stdout, &output.stderr),
        };
        if output.status.success() {
            return serde_json::from_slice(&output.stdout).map_err(|_| garbled(&output));
        }
        #[derive(serde::Deserialize)]
        struct Failure {
            error: RemoteError,
        }
        match serde_json::from_slice::<Failure>(&output.stdout) {
            Ok(failure) => Err(FleetError::Remote {
                host: self.name.clone(),
                error: failure.error,
                ssh: self.ssh(),
            }),
            Err(_) => Err(garbled(&output)),
        }
    }

    /// An ssh-level failure while `step` ran: a lost connection, or ssh
    /// itself failing.
    pub fn lost(&self, step: &str, error: openssh::Error) -> FleetError {
        match error {
            // `env` (or ssh) could not find the program: no hoist there.
            openssh::Error::Remote(cause) if cause.kind() == std::io::ErrorKind::NotFound => {
                FleetError::VersionMismatch {
                    host: self.name.clone(),
                    theirs: format!("no hoist at `{}`", self.reach.hoist),
                    ours: format!("hoist {}", env!("CARGO_PKG_VERSION")),
                    stage: self.reach.stage.clone(),
                }
            }
            openssh::Error::Disconnected | openssh::Error::RemoteProcessTerminated => {
                FleetError::Disconnected {
                    host: self.name.clone(),
                    step: step.to_owned(),
                }
            }
            other => FleetError::Connect {
                host: self.name.clone(),
                problem: chain(&other),
                ssh: self.ssh(),
            },
        }
    }

    /// Forwards the local unix socket `local` to `remote` on the host
    /// (HAProxy's admin socket on the balancer's machine).
    pub async fn forward_unix(&self, local: &Path, remote: &Path) -> Result<(), FleetError> {
        use std::borrow::Cow;
        self.session
            .request_port_forward(
                openssh::ForwardType::Local,
                openssh::Socket::UnixSocket {
                    path: Cow::Borrowed(local),
                },
                openssh::Socket::UnixSocket {
                    path: Cow::Borrowed(remote),
                },
            )
            .await
            .map_err(|error| self.lost("forwarding the balancer's socket", error))
    }

    /// Whether the connection still works.
    pub async fn alive(&self) -> bool {
        self.session.check().await.is_ok()
    }
}

/// An error and its causes in one line (ssh's own words are the cause).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !inner_text.is_empty() && !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(inner_text.trim());
        }
        cause = inner.source();
    }
    text
}

/// The last lines of what a command printed, for a message.
fn tail(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr)
    );
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(5);
    lines[start..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn destinations_with_a_port_use_the_ssh_url_form() {
        assert_eq!(destination("web1"), "web1");
        assert_eq!(destination("deploy@10.0.0.7"), "deploy@10.0.0.7");
        assert_eq!(
            destination("deploy@10.0.0.7:2222"),
            "ssh://deploy@10.0.0.7:2222"
        );
        assert_eq!(destination("10.0.0.7:2222"), "ssh://10.0.0.7:2222");
    }

    #[test]
    fn hints_spell_a_port_as_plain_ssh_takes_it() {
        let reach = super::Reach {
            ssh_config: None,
            known_hosts: hoist_config::KnownHosts::Strict,
            hoist: "/usr/local/bin/hoist".into(),
            root: "/srv/shop".into(),
            stage: "production".into(),
        };
        assert_eq!(
            reach.ssh("deploy@10.0.0.7:2222"),
            "ssh -p 2222 deploy@10.0.0.7"
        );
        assert_eq!(reach.ssh("web1"), "ssh web1");
    }
}
