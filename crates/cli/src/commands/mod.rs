//! One file per subcommand: its arguments and an `exec` calling the library.

pub(crate) mod agent;
mod build;
mod data;
pub(crate) mod db;
mod demo;
mod deploy;
mod drain;
mod example_app;
mod fleet;
mod history;
mod init;
mod isolated_check;
mod logs;
mod maint;
mod notes;
mod notify_deliver;
pub(crate) mod parity;
pub(crate) mod pause;
mod prune;
mod recover;
mod releases;
mod repair;
mod restart;
mod rollback;
mod setup;
mod stage;
mod status;
mod status_page;
mod steer;
mod systemd;
mod unlock;
mod verify;
mod walk;

use crate::cli::Cli;
use clap::Subcommand;

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented hoist.toml template
    Init(init::Args),
    /// Pack the current directory (or `--from-tarball FILE`) into dist/<release>.tar.zst
    // `--version` there is the release's version, not hoist's.
    #[command(disable_version_flag = true)]
    Build(build::Args),
    /// Deploy an artifact (or build this directory and deploy it)
    Deploy(deploy::Args),
    /// Switch back to the previous release, or to `--to ID`
    Rollback(rollback::Args),
    /// Start the live release afresh (blue/green with an agent)
    Restart(restart::Args),
    /// Show what is live, since when, and whether work is pending
    Status(status::Args),
    /// List releases on disk with their state
    Releases(releases::Args),
    /// Show the ledger: who did what, when, and how it went
    History(history::Args),
    /// The commits between the live release and the next, with their `Deployment:` notes
    Notes(notes::Args),
    /// Check the live release's files against its manifest
    Verify(verify::Args),
    /// Put back what `verify` found changed, missing or extra, from the artifact
    Repair(repair::Args),
    /// Remove old releases (never live, previous or last known-good)
    Prune(prune::Args),
    /// Finish or clean up an operation that was interrupted
    Recover(recover::Args),
    /// Clear a deploy lock left by a process that is gone
    Unlock(unlock::Args),
    /// Run the agent: public proxy, app processes, admin socket
    Agent(agent::Args),
    /// Print an app release's log (the agent writes them)
    Logs(logs::Args),
    /// Maintenance mode: a 503 page for some or all paths, with a resume time
    Maint(maint::Args),
    /// Hold new requests (not refuse them) until `hoist resume` or --max
    Pause(pause::PauseArgs),
    /// Release requests held by `hoist pause`
    Resume(pause::ResumeArgs),
    /// Send a sticky share of clients to the held candidate
    Canary(steer::CanaryArgs),
    /// Switch everyone to the held candidate
    Promote(steer::PromoteArgs),
    /// Stop the held candidate; nobody leaves the live release
    Abort(steer::AbortArgs),
    /// Follow the site's same-site links and list the dead ones (exit 1 if any)
    Walk(walk::Args),
    /// This host's runtime fingerprint, or how it differs from another site's or a stage's hosts
    Parity(parity::Args),
    /// Stop new requests to a static backend; returns once it is empty
    Drain(drain::DrainArgs),
    /// Send requests to a drained static backend again
    Undrain(drain::UndrainArgs),
    /// The app's database schema: status, migrate, rollback, backup, restore, diff
    Db(db::Args),
    /// Versioned data sets: load, roll, revert, list, prune, pull
    Data(data::Args),
    /// Write the systemd units that run this site's agent
    Systemd(systemd::Args),
    /// Install this hoist on every host of a stage and create the site there
    Setup(setup::Args),
    /// Build and deploy a bundled example app on a temporary site
    Demo(demo::Args),
    /// The bundled example app's server (run by the agent in the demo)
    #[command(hide = true)]
    ExampleApp(example_app::Args),
    /// One check of a deploy, in its own mount namespace (run by `hoist deploy`)
    #[command(hide = true)]
    IsolatedCheck(isolated_check::Args),
    /// Deliver the site's spooled notifications (started by deploy and rollback)
    #[command(hide = true)]
    NotifyDeliver(notify_deliver::Args),
    /// A host's half of a fleet operation (run over ssh by `--stage` commands)
    #[command(hide = true)]
    Fleet(fleet::Args),
}

/// Runs the parsed command and returns the exit code.
pub fn exec(cli: Cli) -> anyhow::Result<i32> {
    let global = &cli.global;
    if changes_a_site(&cli.command) {
        crate::hangup::outlive_terminal();
    }
    match cli.command {
        Command::Init(args) => init::exec(global, args),
        Command::Build(args) => build::exec(global, args),
        Command::Deploy(args) => deploy::exec(global, args),
        Command::Rollback(args) => rollback::exec(global, args),
        Command::Restart(args) => restart::exec(global, args),
        Command::Status(args) => status::exec(global, args),
        Command::Releases(args) => releases::exec(global, args),
        Command::History(args) => history::exec(global, args),
        Command::Notes(args) => notes::exec(global, args),
        Command::NotifyDeliver(args) => notify_deliver::exec(global, args),
        Command::Verify(args) => verify::exec(global, args),
        Command::Repair(args) => repair::exec(global, args),
        Command::Prune(args) => prune::exec(global, args),
        Command::Recover(args) => recover::exec(global, args),
        Command::Unlock(args) => unlock::exec(global, args),
        Command::Agent(args) => agent::exec(global, args),
        Command::Logs(args) => logs::exec(global, args),
        Command::Maint(args) => maint::exec(global, args),
        Command::Pause(args) => pause::pause(global, args),
        Command::Resume(args) => pause::resume(global, args),
        Command::Canary(args) => steer::canary(global, args),
        Command::Promote(args) => steer::promote(global, args),
        Command::Abort(args) => steer::abort(global, args),
        Command::Walk(args) => walk::exec(global, args),
        Command::Parity(args) => parity::exec(global, args),
        Command::Drain(args) => drain::drain(global, args),
        Command::Undrain(args) => drain::undrain(global, args),
        Command::Db(args) => db::exec(global, args),
        Command::Data(args) => data::exec(global, args),
        Command::Setup(args) => setup::exec(global, args),
        Command::Systemd(args) => systemd::exec(global, args),
        Command::Demo(args) => demo::exec(global, args),
        Command::ExampleApp(args) => example_app::exec(global, args),
        Command::IsolatedCheck(args) => isolated_check::exec(args),
        Command::Fleet(args) => fleet::exec(global, args),
    }
}

/// Commands that change a site go on to the end when their terminal hangs
/// up; the agent (a service), the demo and the readers keep SIGHUP.
fn changes_a_site(command: &Command) -> bool {
    !matches!(
        command,
        Command::Agent(_)
            | Command::Demo(_)
            | Command::Logs(_)
            | Command::Status(_)
            | Command::Releases(_)
            | Command::History(_)
            | Command::Notes(_)
            | Command::Verify(_)
            | Command::Walk(_)
            | Command::Parity(_)
            | Command::ExampleApp(_)
            | Command::IsolatedCheck(_)
            | Command::Fleet(_)
    )
}
