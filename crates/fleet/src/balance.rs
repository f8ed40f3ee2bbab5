//! The stage's balancer, ready to drive: HAProxy's runtime API (on this
//! machine, or on the balancer's host through an ssh-forwarded unix
//! socket), or a hoist agent balancing `[[proxy.backend]]`s.

use crate::{FleetError, Host, Reach};
use hoist_balancer::{Balancer, BalancerError, Haproxy, Idle, ServerStatus, Traffic};
use hoist_config::BalancerKind;
use std::sync::Arc;
use std::time::Duration;

/// A connected balancer, and what keeps it reachable.
#[derive(Debug)]
pub struct Connected {
    /// The balancer.
    pub balancer: Arc<dyn Balancer>,
    /// The ssh connection to its host, kept open while it is used.
    _host: Option<Host>,
    /// The local end of a forwarded socket, removed with it.
    _dir: Option<tempfile::TempDir>,
}

/// Connects to the stage's balancer, if it has one.
pub async fn connect(
    stage: &hoist_config::Stage,
    reach: &Arc<Reach>,
) -> Result<Option<Connected>, FleetError> {
    let Some(config) = &stage.balancer else {
        return Ok(None);
    };
    let host = match &config.host {
        Some(name) => Some(Host::connect(name, balancer_reach(reach, config)).await?),
        None => None,
    };
    match config.kind {
        BalancerKind::Haproxy => {
            let socket = config.socket.clone().expect("checked by the config");
            let backend = config.backend.clone().expect("checked by the config");
            let (path, dir) = match &host {
                None => (socket, None),
                Some(host) => {
                    let dir = tempfile::tempdir().map_err(FleetError::io(
                        "cannot make a directory for the forwarded socket in",
                        std::env::temp_dir(),
                    ))?;
                    let local = dir.path().join("haproxy.sock");
                    host.forward_unix(&local, &socket).await?;
                    (local, Some(dir))
                }
            };
            let haproxy = Haproxy::new(path, backend).with_servers(config.servers.clone());
            Ok(Some(Connected {
                balancer: Arc::new(haproxy),
                _host: host,
                _dir: dir,
            }))
        }
        BalancerKind::Hoist => {
            let agent = HoistAgent {
                host: host.clone(),
                root: config.root.clone().expect("checked by the config"),
                backends: config.servers.clone(),
                runtime: tokio::runtime::Handle::current(),
            };
            Ok(Some(Connected {
                balancer: Arc::new(agent),
                _host: host,
                _dir: None,
            }))
        }
    }
}

/// The balancer's host is reached like the stage's hosts, but its site
/// (for a hoist balancer) is its own.
fn balancer_reach(reach: &Arc<Reach>, config: &hoist_config::Balancer) -> Arc<Reach> {
    let mut own = (**reach).clone();
    if let Some(root) = &config.root {
        own.root = root.clone();
    }
    Arc::new(own)
}

/// A hoist agent as the balancer: `hoist drain URL` / `hoist undrain URL`
/// on its site (over ssh when it is on another machine).
#[derive(Debug)]
struct HoistAgent {
    host: Option<Host>,
    root: std::path::PathBuf,
    backends: std::collections::BTreeMap<String, String>,
    runtime: tokio::runtime::Handle,
}

impl HoistAgent {
    fn url(&self, host: &str) -> Result<&str, BalancerError> {
        self.backends
            .get(host)
            .map(String::as_str)
            .ok_or_else(|| BalancerError::Refused {
                socket: self.root.join("agent.sock"),
                command: format!("drain {host}"),
                answer: format!("no backend URL for `{host}` in `balancer.servers`"),
            })
    }

    fn hoist(&self, args: &[&str]) -> Result<(), BalancerError> {
        let refused = |answer: String| BalancerError::Refused {
            socket: self.root.join("agent.sock"),
            command: args.join(" "),
            answer,
        };
        match &self.host {
            Some(host) => self
                .runtime
                .block_on(host.run::<serde_json::Value>(args))
                .map(|_| ())
                .map_err(|error| refused(error.to_string())),
            None => {
                let exe = std::env::current_exe().map_err(|error| refused(error.to_string()))?;
                let output = std::process::Command::new(exe)
                    .arg("--root")
                    .arg(&self.root)
                    .arg("--json")
                    .args(args)
                    .output()
                    .map_err(|error| refused(error.to_string()))?;
                if output.status.success() {
                    Ok(())
                } else {
                    Err(refused(
                        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
                    ))
                }
            }
        }
    }
}

impl Balancer for HoistAgent {
    fn check(&self, hosts: &[String]) -> Result<(), BalancerError> {
        for host in hosts {
            self.url(host)?;
        }
        Ok(())
    }

    fn drain(&self, host: &str) -> Result<(), BalancerError> {
        // `hoist drain` returns once the backend has no request in flight.
        // It refuses to drain the last healthy backend.
        self.hoist(&["drain", self.url(host)?])
    }

    fn wait_idle(&self, _host: &str, _timeout: Duration) -> Result<Idle, BalancerError> {
        Ok(Idle {
            waited: Duration::ZERO,
        })
    }

    fn ready(&self, host: &str) -> Result<(), BalancerError> {
        self.hoist(&["undrain", self.url(host)?])
    }

    fn status(&self, _host: &str) -> Result<ServerStatus, BalancerError> {
        Ok(ServerStatus::Other("hoist agent".to_owned()))
    }

    fn traffic(&self, _hosts: &[String]) -> Result<Traffic, BalancerError> {
        Ok(Traffic::default())
    }
}
