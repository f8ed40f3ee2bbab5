use crate::cli::Global;
use crate::UsageError;
use anyhow::Context as _;
use hoist_proxy::Maintenance;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist maint on --message 'Upgrading the database' --until 20m\n  hoist maint on --path /perl/ --allow 10.1.0.0/16 --until 2026-11-22T12:20:00Z\n  hoist maint off\n  hoist maint on --stage production --until 20m   every host, one end time\n\nWithout a running agent, `on` writes the `<root>/maintenance` flag file (as nginx setups expect) and `off` removes it."
)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Answer 503 with a maintenance page
    On(OnArgs),
    /// Serve the app again
    Off(OffArgs),
    /// List the next scheduled windows from `[[maintenance.window]]`
    Windows,
}

#[derive(Debug, clap::Args)]
struct OnArgs {
    /// What the page says.
    #[arg(long, default_value = "We are doing some scheduled maintenance.")]
    message: String,
    /// When the site is back: a UTC time (`2026-11-22T12:20:00Z`, `12:20`, `tomorrow 12:20`) or a duration (`20m`). A time already past is refused.
    #[arg(long, value_name = "TIME|DURATION")]
    until: Option<String>,
    /// Only paths starting with this are affected (repeatable; default: all).
    #[arg(long = "path", value_name = "PREFIX")]
    paths: Vec<String>,
    /// Clients in this network still reach the app (repeatable).
    #[arg(long = "allow", value_name = "CIDR")]
    allow: Vec<String>,
    /// The app's own page, with `{{message}}`, `{{until}}` (the time) and `{{until_text}}` (a sentence).
    #[arg(long, value_name = "FILE")]
    page: Option<PathBuf>,
    /// Every host of this stage (`[stages.NAME]` in hoist.toml), all or none.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
}

#[derive(Debug, clap::Args)]
struct OffArgs {
    /// Every host of this stage (`[stages.NAME]` in hoist.toml).
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let action = match args.action {
        Action::On(mut on) if on.stage.is_some() => {
            let stage = on.stage.take().expect("matched with a stage");
            // Checked and resolved here once: one `until` on every host.
            let maintenance = maintenance(on)?;
            let change = hoist_fleet::MaintChange::On(hoist_fleet::MaintOn {
                message: maintenance.message,
                until: maintenance.until,
                paths: maintenance.paths,
                allow: maintenance.allow,
                page: maintenance.page,
            });
            return super::stage::maint::exec(global, &stage, change);
        }
        Action::Off(OffArgs { stage: Some(stage) }) => {
            return super::stage::maint::exec(global, &stage, hoist_fleet::MaintChange::Off);
        }
        action => action,
    };
    let (context, config) = crate::target::open(global)?;
    let flag = crate::flag_file::path(context.site.root(), config.as_ref());
    let agent = hoist_agent::AgentClient::find(&context.site.socket_path());
    match action {
        Action::On(on) => {
            let maintenance = maintenance(on)?;
            match &agent {
                Some(agent) => {
                    agent.set_maintenance(Some(&maintenance))?;
                    eprintln!(
                        "{} (agent); `hoist maint off` ends it",
                        describe(&maintenance)
                    );
                    crate::target::record_traffic(&context, "maint-on", describe(&maintenance));
                }
                None => {
                    let record = crate::flag_file::FlagRecord {
                        message: maintenance.message.clone(),
                        until: maintenance.until,
                        since: jiff::Timestamp::now(),
                    };
                    crate::flag_file::write(&flag, &record)?;
                    eprintln!(
                        "no agent runs: {}; wrote the flag file `{}` for your web server (`hoist status` shows it)",
                        describe(&maintenance),
                        flag.display()
                    );
                    crate::target::record_traffic(
                        &context,
                        "maint-on",
                        format!("{}, flag file `{}`", describe(&maintenance), flag.display()),
                    );
                    let ignored = !maintenance.paths.is_empty()
                        || !maintenance.allow.is_empty()
                        || maintenance.page.is_some();
                    if ignored {
                        eprintln!("warning: `--path`, `--allow` and `--page` apply only with a running agent; your web server sees only that the flag file exists");
                    }
                }
            }
            let result = serde_json::json!({
                "maintenance": maintenance,
                "flag_file": agent_absent_flag(&flag),
            });
            crate::output::json_result(global.json, &result)?;
        }
        Action::Windows => {
            let windows = config
                .map(|config| config.maintenance.window)
                .unwrap_or_default();
            let next = hoist_config::next_windows(&windows, jiff::Timestamp::now(), 10);
            crate::output::Output::new(global.json).emit(next.as_slice())?;
        }
        Action::Off(_) => {
            // The flag file goes first: the agent then re-reads it with the
            // command, so maintenance is off when this says so.
            let had_flag = crate::flag_file::remove(&flag)?;
            if had_flag {
                eprintln!("removed the flag file `{}`", flag.display());
            }
            if let Some(agent) = agent {
                agent.set_maintenance(None)?;
            }
            eprintln!("maintenance is off");
            crate::target::record_traffic(&context, "maint-off", "maintenance is off".into());
            let result = serde_json::json!({ "maintenance": null, "flag_file_removed": had_flag });
            crate::output::json_result(global.json, &result)?;
        }
    }
    Ok(crate::EXIT_OK)
}

fn maintenance(on: OnArgs) -> anyhow::Result<Maintenance> {
    let page = match &on.page {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the page `{}`", file.display()))?,
        ),
        None => None,
    };
    let until = on.until.as_deref().map(parse_until).transpose()?;
    let maintenance = Maintenance {
        message: on.message,
        until,
        paths: on.paths,
        allow: on.allow,
        page,
    };
    // The rules the proxy will really match, normalised as requests are;
    // a bad one is named by its flag.
    maintenance.checked().map_err(|bad| {
        let message = match bad {
            hoist_proxy::BadRule::Path { path, problem } => format!("`--path {path}`: {problem}"),
            hoist_proxy::BadRule::Allow(cidr) => {
                format!("`--allow {cidr}` is not a network like 10.1.0.0/16 or an address")
            }
        };
        UsageError {
            message,
            hint: Some("hoist maint on --help".to_owned()),
        }
        .into()
    })
}

/// One line saying what is now in force, so a surprise shows at once.
fn describe(maintenance: &Maintenance) -> String {
    let mut text = String::from("maintenance is on");
    match &maintenance.until {
        Some(until) => text.push_str(&format!(
            " until {}",
            until.strftime("%Y-%m-%d %H:%M:%S UTC")
        )),
        None => text.push_str(" until `hoist maint off`"),
    }
    if !maintenance.paths.is_empty() {
        text.push_str(&format!(" for paths {}", maintenance.paths.join(", ")));
    }
    if !maintenance.allow.is_empty() {
        text.push_str(&format!(
            "; {} still reach the app",
            maintenance.allow.join(", ")
        ));
    }
    text
}

/// The flag file written, for the `--json` result (`None` with an agent).
fn agent_absent_flag(flag: &std::path::Path) -> Option<&std::path::Path> {
    flag.exists().then_some(flag)
}

/// `2026-11-22T12:20:00Z`, `12:20` (UTC, today), `tomorrow 12:20`, or a
/// duration from now (`20m`); at most [`hoist_config::MAX_DURATION`] ahead.
/// A time already past is refused rather than read as tomorrow: "10:00" at
/// 14:00 is more often a slip than a wish for 20 hours of maintenance.
/// Every refusal is a usage error (exit 2), as clap's own are.
fn parse_until(text: &str) -> anyhow::Result<jiff::Timestamp> {
    let usage = |message: String, hint: &str| UsageError {
        message,
        hint: Some(hint.to_owned()),
    };
    let now = jiff::Timestamp::now();
    let latest = now
        .checked_add(jiff::SignedDuration::try_from(hoist_config::MAX_DURATION)?)
        .expect("a year from now is a valid timestamp");
    let in_range = |at: jiff::Timestamp| -> anyhow::Result<jiff::Timestamp> {
        if at <= now {
            let now = now.strftime("%H:%M UTC");
            return Err(usage(
                format!("`--until {text}` is in the past (it is {now} now)"),
                "hoist maint on --until 'tomorrow 10:00' (or a full time like 2026-11-22T10:00:00Z, or a duration like 20m)",
            )
            .into());
        }
        if at > latest {
            return Err(usage(
                format!("`--until {text}` is over the limit of 365 days from now"),
                "hoist maint on --until 2h",
            )
            .into());
        }
        Ok(at)
    };
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return in_range(at);
    }
    // A time of day before a duration: `12:20:30` reads as both.
    let (days, time) = match text.strip_prefix("tomorrow") {
        Some(time) => (1, time.trim()),
        None => (0, text),
    };
    if let Ok(time) = time.parse::<jiff::civil::Time>() {
        let at = now
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_datetime(time)
            .to_zoned(jiff::tz::TimeZone::UTC)?
            .timestamp()
            + jiff::SignedDuration::from_hours(24 * days);
        return in_range(at);
    }
    match hoist_config::parse_duration(text) {
        Ok(span) => return in_range(now.checked_add(jiff::SignedDuration::try_from(span)?)?),
        Err(hoist_config::DurationError::NotADuration(_)) => {}
        Err(problem) => {
            return Err(usage(format!("`--until`: {problem}"), "hoist maint on --until 2h").into())
        }
    }
    Err(usage(
        format!("`--until {text}` is not a UTC time (2026-11-22T12:20:00Z, 12:20, tomorrow 12:20) or a duration (20m)"),
        "hoist maint on --until 20m",
    )
    .into())
}

impl crate::output::Render for [hoist_config::Occurrence] {
    fn human(&self, out: &mut String) {
        use std::fmt::Write;
        if self.is_empty() {
            out.push_str("no maintenance windows are configured\n");
        }
        for window in self {
            let _ = writeln!(
                out,
                "{} -> {}  {}",
                crate::output::time(Some(window.start)),
                crate::output::time(Some(window.end)),
                window.message
            );
        }
    }
}
