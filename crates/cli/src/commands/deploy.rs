use crate::cli::Global;
use crate::output::{self, Output, Render};
use crate::progress::Progress;
use anyhow::Context as _;
use hoist_deploy::{DeployReport, DeployRequest};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist deploy                       build ./ and deploy it\n  hoist deploy dist/X.tar.zst --reason 'fix checkout'\n  hoist deploy dist/X.tar.zst --with-data WS222   new code and the data it needs, in one switch"
)]
pub struct Args {
    /// The artifact to deploy; without it, this directory is built first.
    artifact: Option<PathBuf>,
    /// Why, for the ledger.
    #[arg(long)]
    reason: Option<String>,
    /// Start the release beside the live one, reachable only by test traffic (needs an agent).
    #[arg(long)]
    hold: bool,
    /// With --hold: requests from this network reach the candidate (repeatable).
    #[arg(long = "test-from", value_name = "CIDR", requires = "hold")]
    test_from: Vec<String>,
    /// Hold requests during the switch (needs an agent), for at most DURATION (365 days at most).
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "30s", value_parser = super::pause::parse_max)]
    pause: Option<std::time::Duration>,
    /// Move `data/current` to VERSION (id, prefix or label) in the same
    /// switch, before the code: a release goes live with the data it needs.
    /// With an agent, requests are held meanwhile (30s at most, `--pause` to change).
    #[arg(long, value_name = "VERSION", conflicts_with = "hold")]
    with_data: Option<String>,
    /// Deploy even though the test gate counts fewer tests than the last
    /// deploy did (tests were removed on purpose); noted in the ledger.
    #[arg(long)]
    allow_fewer_tests: bool,
    /// Deploy to every host of this stage (`[stages.NAME]` in hoist.toml),
    /// over ssh, in waves behind its balancer.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["hold", "pause", "with_data"])]
    stage: Option<String>,
    /// With --stage: deploy exactly the artifact this other stage runs (an
    /// ARTIFACT given must be that one, same id and digest).
    #[arg(long, value_name = "NAME", requires = "stage")]
    from_stage: Option<String>,
    /// Unpack, verify, check and test only; switch nothing (a host's first
    /// phase of a fleet deploy).
    #[arg(long, hide = true, conflicts_with_all = ["hold", "pause", "with_data", "stage"])]
    only_stage: bool,
    /// Never contract an open expansion (PostgreSQL expand and contract)
    /// to make room for the release's own: refuse instead. A fleet deploy
    /// passes it to its hosts, having checked every host itself.
    #[arg(long, hide = true)]
    no_contract: bool,
}

impl Render for DeployReport {
    fn human(&self, out: &mut String) {
        if self.outcome == "already-live" {
            out.push_str(&format!(
                "`{}` is already live; nothing changed\n",
                self.release
            ));
            return;
        }
        if self.outcome == "staged" {
            output::field(out, "staged", &self.release);
            output::field(out, "live", self.live.as_deref().unwrap_or("-"));
        } else if self.outcome == "held" {
            // Held beside the live release: what users get did not change.
            output::field(out, "candidate", &self.release);
            output::field(out, "live", self.live.as_deref().unwrap_or("-"));
        } else {
            output::field(out, "live", &self.release);
            output::field(out, "previous", self.previous.as_deref().unwrap_or("-"));
        }
        output::field(
            out,
            "written",
            format!(
                "{} files, {}",
                self.files_written,
                output::bytes(self.bytes_written)
            ),
        );
        output::field(
            out,
            "linked",
            format!("{} unchanged files", self.files_linked),
        );
        if let Some(tests) = self.test_count {
            output::field(out, "tests", tests);
        }
        if !self.migrations.is_empty() {
            output::field(out, "migrations", self.migrations.join(", "));
        }
        if let Some(expansion) = &self.expansion {
            output::field(out, "db schema", expansion.summary());
        }
        if !self.pruned.is_empty() {
            output::field(out, "pruned", self.pruned.join(", "));
        }
        output::hooks(out, &self.hooks);
        if let Some(notes) = &self.notes {
            let count = notes.commits.len();
            let summary =
                match &notes.unavailable {
                    Some(problem) => format!("none ({problem})"),
                    None => {
                        format!(
                    "{}, {} with `Deployment:`, {} (shown above; `hoist history` keeps them)",
                    output::plural(count, "commit", "commits"),
                    notes.commits.iter().filter(|c| c.deployment.is_some()).count(),
                    output::plural(notes.warnings.len(), "warning", "warnings")
                )
                    }
                };
            output::field(out, "notes", summary);
        }
        output::field(out, "took", format!("{} ms", self.duration_ms));
    }
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    if let Some(stage) = &args.stage {
        return super::stage::deploy::exec(
            global,
            super::stage::deploy::Request {
                stage: stage.clone(),
                artifact: args.artifact,
                from_stage: args.from_stage,
                reason: args.reason,
                allow_fewer_tests: args.allow_fewer_tests,
            },
        );
    }
    let config = crate::target::config(global)?;
    let root = crate::target::root(global, config.as_ref())?;
    let artifact = match args.artifact {
        Some(artifact) => artifact,
        None => {
            let Some((config, _)) = &config else {
                let message = "no artifact given and no `hoist.toml` here to build from; pass an artifact, or write one";
                return Err(crate::Failure::new("no-config", message)
                    .hint("hoist init")
                    .into());
            };
            super::build::build(config, ".".as_ref(), "dist".as_ref(), global.quiet)?.artifact
        }
    };
    let mut context = hoist_deploy::Context::create(&root)
        .with_context(|| format!("cannot use site `{}`", root.display()))?;
    context.join_fleet_op(global.fleet_op.clone());
    // Moving data under the live code: hold requests until the new code serves.
    let pause = args
        .pause
        .or(args.with_data.as_ref().map(|_| hoist_deploy::DEFAULT_PAUSE));
    if let Some(cidr) = args
        .test_from
        .iter()
        .find(|cidr| !hoist_proxy::is_valid_cidr(cidr))
    {
        return Err(crate::UsageError {
            message: format!(
                "`--test-from {cidr}` is not a network like 10.1.0.0/16 or an address"
            ),
            hint: Some("hoist deploy --hold --test-from 10.1.0.0/16 ARTIFACT".to_owned()),
        }
        .into());
    }
    crate::target::attach_agent_with(&mut context, args.test_from);
    context.allow_fewer_tests = args.allow_fewer_tests;
    if args.pause.is_some() && context.agent.is_none() {
        let message =
            "`--pause` needs a running agent to hold requests; start one, or drop `--pause`";
        return Err(crate::Failure::new("agent-needed", message)
            .hint("hoist agent")
            .into());
    }
    // Read in this directory's repository, before anything changes.
    // No `[database]`: no schema, so no schema warning.
    let migrations = config
        .as_ref()
        .and_then(|(config, _)| config.database.as_ref())
        .map(|db| db.migrations.clone());
    // A fleet host's part runs far from the checkout: its notes are the fleet's.
    let notes = (global.fleet_op.is_none() && !args.only_stage)
        .then(|| crate::notes_range::for_deploy(&root, &artifact, migrations.as_deref()))
        .flatten();
    let request = DeployRequest {
        notes,
        artifact,
        config: crate::site::overlay(&root, config, crate::site::Use::Deploy)?,
        reason: args.reason,
        hold: args.hold,
        pause,
        with_data: args.with_data,
        stage_only: args.only_stage,
        no_contract: args.no_contract,
    };
    let report = hoist_deploy::deploy(
        &context,
        &request,
        &Progress::new(global.quiet || global.json),
    )?;
    Output::new(global.json).emit(&report)?;
    Ok(crate::EXIT_OK)
}
