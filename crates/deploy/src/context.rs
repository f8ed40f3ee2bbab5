//! An open site with its ledger: what every operation starts from.

use crate::{DeployError, Reporter};
use hoist_config::{Config, Deploy};
use hoist_ledger::{Ledger, Write, Written};
use hoist_site::{DeployLock, Journal, Op, Site};
use std::path::Path;

/// How the lifecycle reaches a running agent; the agent starts the
/// candidate, health-checks it, and only then swaps traffic and `current`.
pub trait AgentLink: std::fmt::Debug {
    /// Makes `release` live for `op`; `Ok` carries a one-line summary, `Err`
    /// why the candidate was refused (nothing was switched). After a forward
    /// move ([`Op::is_forward`]) the agent watches the release.
    fn activate(&self, release: &str, op: Op) -> Result<String, String>;

    /// Holds new requests for at most `max` and waits for those in flight
    /// (`--pause`, `rollback --with-db`) until [`AgentLink::resume`].
    fn pause(&self, max: std::time::Duration) -> Result<(), String>;

    /// Releases held requests.
    fn resume(&self) -> Result<(), String>;

    /// Waits until the retired `release` has finished its in-flight requests.
    fn wait_drained(&self, release: &str) -> Result<(), String>;

    /// Tells the agent `data/current` moved from `from` to `version`: it
    /// reloads the app as `[data] reload` says and names the version in
    /// responses. `Err` says why not; when the app did not take the
    /// reload, the agent has put `data/current` back on `from`.
    fn data_rolled(&self, version: &str, from: Option<&str>) -> Result<String, String>;

    /// Starts `release` beside the live one for test traffic only (`deploy --hold`).
    fn hold(&self, release: &str) -> Result<String, String>;

    /// Starts a fresh process of the live release and swaps it in once
    /// healthy; `Ok` says how.
    fn restart(&self) -> Result<String, String>;

    /// Every release the agent runs: live, warm (kept for an instant
    /// rollback), a held candidate. `hoist db complete` and `hoist db
    /// abort` refuse while one on the side they drop serves.
    fn running(&self) -> Result<Vec<crate::Running>, String> {
        Err("this agent link cannot list what it runs".to_owned())
    }

    /// Stops the held candidate, if any; returns its release.
    fn abort(&self) -> Result<Option<String>, String>;

    /// Stops `release`'s warm processes, once drained (`rollback --with-db`
    /// before it removes the expansion they need); false when not warm.
    fn retire(&self, release: &str) -> Result<bool, String> {
        Err(format!(
            "this agent link cannot stop the warm processes of `{release}`"
        ))
    }

    /// The address the agent's public listener is bound to (`127.0.0.1:8080`),
    /// where the link walk reaches a held candidate.
    fn public_address(&self) -> Result<String, String> {
        Err("this agent link cannot name the public listener".to_owned())
    }
}

/// A site and its ledger.
#[derive(Debug)]
pub struct Context {
    /// The site layout.
    pub site: Site,
    /// Its ledger.
    pub ledger: Ledger,
    /// Why the ledger could not be opened, when [`Context::ledger`] is a
    /// stand-in that reads as empty (see [`Ledger::unavailable`]).
    pub ledger_problem: Option<String>,
    /// The site's agent, when one runs: switches then go through it
    /// (blue/green) instead of `restart` (external mode).
    pub agent: Option<Box<dyn AgentLink>>,
    /// `hoist deploy --allow-fewer-tests`: the test gate takes fewer tests
    /// than the last deploy counted (still at least `min_tests`).
    pub allow_fewer_tests: bool,
    /// The fleet operation this command is one host's part of
    /// (`--fleet-op`, set by `hoist deploy --stage`): the host's fleet
    /// lock lets it through, and its ledger rows carry the id.
    pub fleet_op: Option<String>,
}

impl Context {
    /// Opens an existing site for a command that changes it. A ledger that
    /// cannot be opened does not stop it (a rollback must not depend on
    /// the ledger): it gets a stand-in, and its writes wait in
    /// `ledger-pending.jsonl`.
    pub fn open(root: &Path) -> Result<Context, DeployError> {
        Context::writable(Site::open(root)?)
    }

    /// Opens a site, creating its layout on first use (deploy).
    pub fn create(root: &Path) -> Result<Context, DeployError> {
        Context::writable(Site::create(root)?)
    }

    fn writable(site: Site) -> Result<Context, DeployError> {
        let path = site.ledger_path();
        let (ledger, ledger_problem) = match Ledger::open(&path) {
            Ok(ledger) => {
                // Older sites have a world-readable ledger; it names people and hosts.
                site.state_access().apply_to(&path)?;
                (ledger, None)
            }
            Err(error) => (Ledger::unavailable(&path), Some(error.to_string())),
        };
        Ok(Context {
            site,
            ledger,
            ledger_problem,
            agent: None,
            allow_fewer_tests: false,
            fleet_op: None,
        })
    }

    /// Makes this command one host's part of fleet operation `op`.
    pub fn join_fleet_op(&mut self, op: Option<String>) {
        self.ledger.set_fleet_op(op.clone());
        self.fleet_op = op;
    }

    /// Opens an existing site for a command that only reads: nothing is
    /// created or written, so it works for a user who can only read the
    /// site (its group, see [`hoist_site::StateAccess`]) and on a full disk.
    pub fn open_read_only(root: &Path) -> Result<Context, DeployError> {
        let site = Site::open(root)?;
        let ledger = Ledger::open_read_only(&site.ledger_path())?;
        Ok(Context {
            site,
            ledger,
            ledger_problem: None,
            agent: None,
            allow_fewer_tests: false,
            fleet_op: None,
        })
    }

    /// Records `write` in the ledger, or, when the ledger cannot take it,
    /// in `ledger-pending.jsonl` with a warning. Never fails: what it
    /// records has already happened, and must not be undone or hidden by a
    /// ledger problem.
    pub fn record(&self, write: &Write, reporter: &dyn Reporter) {
        match self.ledger.write_or_defer(write) {
            Ok(Written::Recorded) => {}
            Ok(Written::Deferred { problem, pending }) => reporter.warn(&format!(
                "the ledger could not be written ({problem}); this is kept in `{}` and added to it once it can be (`hoist recover` moves a damaged ledger aside)",
                pending.display()
            )),
            Err(error) => reporter.warn(&format!("this was not recorded: {error}")),
        }
    }

    /// Takes the deploy lock, warning about a stale one, and refuses while
    /// an interrupted operation awaits `hoist recover`.
    pub(crate) fn lock(
        &self,
        command: &str,
        reporter: &dyn Reporter,
    ) -> Result<DeployLock, DeployError> {
        let (lock, stale) = DeployLock::acquire(&self.site, command)?;
        // While a fleet operation holds this host, only its own commands run.
        hoist_site::FleetLock::refuse_unless(&self.site, self.fleet_op.as_deref())?;
        if let Some(stale) = stale {
            reporter.warn(&format!(
                "took over a stale lock left by {stale}, whose process is gone"
            ));
        }
        Ok(lock)
    }

    /// Errors if a journal from an interrupted operation is waiting.
    pub(crate) fn refuse_if_pending(&self) -> Result<(), DeployError> {
        match Journal::pending(&self.site)? {
            Some(record) => Err(DeployError::PendingRecovery {
                op: record.op.to_string(),
                release: record.release,
                step: record.step.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// The deploy settings for `release`: the caller's config if given, else
    /// the `hoist.toml` shipped inside the release, else defaults.
    pub(crate) fn settings_for(
        &self,
        release: &str,
        given: Option<&Config>,
    ) -> Result<Deploy, DeployError> {
        Ok(self
            .config_for(release, given)?
            .map_or_else(Deploy::default, |config| {
                let mut deploy = config.deploy;
                deploy.release_header = config.proxy.release_header;
                deploy
            }))
    }

    /// The caller's config if given, else the `hoist.toml` shipped inside
    /// `release`, with the site's own host settings (`site.toml`) over it.
    pub fn config_for(
        &self,
        release: &str,
        given: Option<&Config>,
    ) -> Result<Option<Config>, DeployError> {
        let config = match given {
            Some(config) => Some(config.clone()),
            None => {
                let shipped = self.site.release_dir(release).join(hoist_config::FILE_NAME);
                let partial = self.site.partial_dir(release).join(hoist_config::FILE_NAME);
                match [shipped, partial].into_iter().find(|path| path.is_file()) {
                    Some(path) => Some(Config::load(&path)?),
                    None => None,
                }
            }
        };
        match config {
            Some(config) => self.with_site_settings(config).map(Some),
            // A release without its own `hoist.toml` still runs as the
            // host says: `site.toml`'s restart, health, env file.
            None => Ok(self.site_settings()?.map(|site| site.alone())),
        }
    }
}
