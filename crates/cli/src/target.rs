//! Which site and which config a command acts on.

use crate::cli::Global;
use anyhow::Context as _;
use hoist_config::Config;
use std::path::{Path, PathBuf};

/// The config, if one was given or found in the working directory.
pub fn config(global: &Global) -> anyhow::Result<Option<(Config, PathBuf)>> {
    let path = match &global.config {
        Some(path) => path.clone(),
        None => {
            let default = PathBuf::from(hoist_config::FILE_NAME);
            if !default.is_file() {
                return Ok(None);
            }
            default
        }
    };
    let config = Config::load(&path)?;
    Ok(Some((config, path)))
}

/// The site root: `--root`, `HOIST_ROOT`, or `deploy.root` (relative to the config file).
pub fn root(global: &Global, config: Option<&(Config, PathBuf)>) -> anyhow::Result<PathBuf> {
    if let Some(root) = &global.root {
        return Ok(root.clone());
    }
    if let Some((config, path)) = config {
        if let Some(root) = &config.deploy.root {
            let base = path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            return Ok(base.join(root));
        }
    }
    Err(crate::Failure::new(
        "no-root",
        "no site root: pass `--root DIR`, set `HOIST_ROOT`, or set `deploy.root` in hoist.toml",
    )
    .into())
}

/// An existing site's context, for commands that change it.
pub fn open(global: &Global) -> anyhow::Result<(hoist_deploy::Context, Option<Config>)> {
    let config = config(global)?;
    let root = root(global, config.as_ref())?;
    let mut context = hoist_deploy::Context::open(&root)
        .with_context(|| format!("cannot open site `{}`", root.display()))?;
    context.join_fleet_op(global.fleet_op.clone());
    Ok((
        context,
        crate::site::overlay(&root, config, crate::site::Use::Command)?,
    ))
}

/// An existing site's context for a command that only reads: it writes
/// nothing, so it works for members of the site's group and on a full disk.
pub fn open_read_only(global: &Global) -> anyhow::Result<(hoist_deploy::Context, Option<Config>)> {
    let config = config(global)?;
    let root = root(global, config.as_ref())?;
    let context = hoist_deploy::Context::open_read_only(&root)
        .with_context(|| format!("cannot open site `{}`", root.display()))?;
    Ok((
        context,
        crate::site::overlay(&root, config, crate::site::Use::Command)?,
    ))
}

/// Talks to the agent through its admin socket, for the lifecycle library.
#[derive(Debug)]
struct AgentAdapter {
    client: hoist_agent::AgentClient,
    /// `deploy --hold --test-from`: networks whose requests reach a held candidate.
    test_from: Vec<String>,
}

impl hoist_deploy::AgentLink for AgentAdapter {
    fn pause(&self, max: std::time::Duration) -> Result<(), String> {
        self.client
            .pause(max)
            .map(drop)
            .map_err(|error| error.to_string())
    }

    fn resume(&self) -> Result<(), String> {
        self.client.resume().map_err(|error| error.to_string())
    }

    fn wait_drained(&self, release: &str) -> Result<(), String> {
        match self.client.wait_drained(release) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "`{release}` did not drain within the drain timeout"
            )),
            Err(error) => Err(error.to_string()),
        }
    }

    fn activate(&self, release: &str, op: hoist_site::Op) -> Result<String, String> {
        let activated = self
            .client
            .activate(release, op.is_forward())
            .map_err(|error| error.to_string())?;
        let how = if activated.instant {
            "warm, instant"
        } else {
            "started and healthy"
        };
        Ok(format!(
            "`{}` is serving ({how}); route swapped in {} ms",
            activated.release, activated.switch_ms
        ))
    }

    fn data_rolled(&self, version: &str, from: Option<&str>) -> Result<String, String> {
        let roll = hoist_agent::DataRoll {
            version: version.to_owned(),
            from: from.map(str::to_owned),
        };
        self.client
            .data_rolled(&roll)
            .map(|reloaded| reloaded.how)
            .map_err(|error| error.to_string())
    }

    fn hold(&self, release: &str) -> Result<String, String> {
        self.client
            .hold(release, &self.test_from)
            .map_err(|error| error.to_string())?;
        Ok(format!("`{release}` runs beside the live release; only test traffic reaches it (`hoist canary`, `hoist promote`, `hoist abort`)"))
    }

    fn restart(&self) -> Result<String, String> {
        self.client.restart().map_err(|error| error.to_string())
    }

    fn running(&self) -> Result<Vec<hoist_deploy::Running>, String> {
        use hoist_deploy::{Role, Running};
        let status = self.client.status().map_err(|error| error.to_string())?;
        let process = |info: &hoist_agent::ProcessInfo, role| Running {
            release: info.release.clone(),
            role,
            until: info.until,
        };
        let mut running: Vec<Running> = status
            .live
            .iter()
            .map(|live| process(live, Role::Live))
            .collect();
        running.extend(status.warm.iter().map(|warm| process(warm, Role::Warm)));
        running.extend(status.candidate.map(|candidate| Running {
            release: candidate.release,
            role: Role::Candidate,
            until: None,
        }));
        Ok(running)
    }

    fn abort(&self) -> Result<Option<String>, String> {
        self.client.abort().map_err(|error| error.to_string())
    }

    fn retire(&self, release: &str) -> Result<bool, String> {
        self.client
            .retire(release)
            .map_err(|error| error.to_string())
    }

    fn public_address(&self) -> Result<String, String> {
        self.client
            .status()
            .map(|status| status.listen)
            .map_err(|error| error.to_string())
    }
}

/// Routes switches through the site's agent when one answers.
pub fn attach_agent(context: &mut hoist_deploy::Context) {
    attach_agent_with(context, Vec::new());
}

/// Like [`attach_agent`], letting `test_from` networks reach a held candidate.
pub fn attach_agent_with(context: &mut hoist_deploy::Context, test_from: Vec<String>) {
    let socket = context.site.socket_path();
    match hoist_agent::AgentClient::find(&socket) {
        Some(client) => context.agent = Some(Box::new(AgentAdapter { client, test_from })),
        // An agent ran here and is gone: file-level mode switches `current`,
        // and nothing serves it until an agent runs again. Said, not hidden.
        None if socket.exists() => {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr().lock(),
                "warning: no agent answers on `{}` (it stopped); this switches `current` only, and nothing serves the release until `hoist agent` runs again",
                socket.display()
            );
        }
        None => {}
    }
}

/// Records a change of a traffic rule (maintenance, pause, canary, drain)
/// in the ledger, so `hoist history` says who changed what users get and
/// when. Never fails the change it records (that already happened).
pub fn record_traffic(context: &hoist_deploy::Context, op: &str, detail: String) {
    record_traffic_on(context, op, None, detail);
}

/// [`record_traffic`] for a rule about the held `candidate` (`canary`).
/// The live release stays: `from` and `to` both name it.
pub fn record_traffic_on(
    context: &hoist_deploy::Context,
    op: &str,
    candidate: Option<String>,
    detail: String,
) {
    let live = context.site.live().ok().flatten();
    let event = hoist_ledger::Event {
        from: live.clone(),
        to: live,
        candidate,
        detail: Some(detail),
        ..hoist_ledger::Event::one_off(op, hoist_site::user_name(), hoist_site::host_name())
    };
    let reporter = crate::progress::Progress::new(false);
    context.record(&hoist_ledger::Write::Event { event }, &reporter);
}

/// The site's running agent, or an error saying how to start one.
pub fn agent(context: &hoist_deploy::Context) -> anyhow::Result<hoist_agent::AgentClient> {
    let socket = context.site.socket_path();
    hoist_agent::AgentClient::find(&socket).ok_or_else(|| crate::Failure::no_agent(&socket).into())
}

/// `--release ID` if given, else the live release.
pub fn release_or_live(
    context: &hoist_deploy::Context,
    release: Option<String>,
) -> anyhow::Result<String> {
    match release {
        Some(release) => Ok(release),
        None => context.site.live()?.ok_or_else(|| {
            let root = context.site.root().display();
            crate::Failure::new("nothing-live", format!("nothing is live at `{root}`"))
                .hint("pass `--release ID` (`hoist releases` lists them)")
                .into()
        }),
    }
}
