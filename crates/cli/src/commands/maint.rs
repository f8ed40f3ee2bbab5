use crate::cli::Global;
use anyhow::{bail, Context as _};
use hoist_proxy::Maintenance;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hoist maint on --message 'Upgrading the database' --until 20m\n  hoist maint on --path /perl/ --allow 10.1.0.0/16 --until 2026-11-22T12:20:00Z\n  hoist maint off\n\nWithout a running agent, `on` writes the `<root>/maintenance` flag file (as nginx setups expect) and `off` removes it."
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
    Off,
    /// List the next scheduled windows from `[[maintenance.window]]`
    Windows,
}

#[derive(Debug, clap::Args)]
struct OnArgs {
    /// What the page says.
    #[arg(long, default_value = "We are doing some scheduled maintenance.")]
    message: String,
    /// When the site is back: a UTC time (`2026-11-22T12:20:00Z`, `12:20`) or a duration (`20m`).
    #[arg(long, value_name = "TIME|DURATION")]
    until: Option<String>,
    /// Only paths starting with this are affected (repeatable; default: all).
    #[arg(long = "path", value_name = "PREFIX")]
    paths: Vec<String>,
    /// Clients in this network still reach the app (repeatable).
    #[arg(long = "allow", value_name = "CIDR")]
    allow: Vec<String>,
    /// The app's own page, with `{{message}}` and `{{until}}` placeholders.
    #[arg(long, value_name = "FILE")]
    page: Option<PathBuf>,
}

pub fn exec(global: &Global, args: Args) -> anyhow::Result<i32> {
    let (context, config) = crate::target::open(global)?;
    let flag_file = config
        .as_ref()
        .and_then(|config| config.maintenance.flag_file.clone());
    let flag = context
        .site
        .root()
        .join(flag_file.unwrap_or_else(|| "maintenance".into()));
    let agent = hoist_agent::AgentClient::find(&context.site.socket_path());
    match args.action {
        Action::On(on) => {
            let maintenance = maintenance(on)?;
            match agent {
                Some(agent) => {
                    agent.set_maintenance(Some(&maintenance))?;
                    eprintln!(
                        "{} (agent); `hoist maint off` ends it",
                        describe(&maintenance)
                    );
                    crate::target::record_traffic(&context, "maint-on", describe(&maintenance));
                }
                None => {
                    hoist_site::durable::write_atomic(
                        &flag,
                        format!("{}\n", maintenance.message).as_bytes(),
                    )?;
                    eprintln!(
                        "no agent runs: wrote the flag file `{}` for your web server",
                        flag.display()
                    );
                    crate::target::record_traffic(
                        &context,
                        "maint-on",
                        format!("flag file `{}`", flag.display()),
                    );
                    let ignored = maintenance.until.is_some()
                        || !maintenance.paths.is_empty()
                        || !maintenance.allow.is_empty()
                        || maintenance.page.is_some();
                    if ignored {
                        eprintln!("warning: the flag file holds only the message: `--until`, `--path`, `--allow` and `--page` apply only with a running agent");
                    }
                }
            }
        }
        Action::Windows => {
            let windows = config
                .map(|config| config.maintenance.window)
                .unwrap_or_default();
            let next = hoist_config::next_windows(&windows, jiff::Timestamp::now(), 10);
            crate::output::Output::new(global.json).emit(next.as_slice())?;
        }
        Action::Off => {
            // The flag file goes first: the agent then re-reads it with the
            // command, so maintenance is off when this says so.
            let had_flag = flag.exists();
            if had_flag {
                hoist_site::durable::remove_file(&flag)?;
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
    maintenance.checked().map_err(|bad| match bad {
        hoist_proxy::BadRule::Path { path, problem } => {
            anyhow::anyhow!("`--path {path}`: {problem}")
        }
        hoist_proxy::BadRule::Allow(cidr) => {
            anyhow::anyhow!("`--allow {cidr}` is not a network like 10.1.0.0/16 or an address")
        }
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

/// `2026-11-22T12:20:00Z`, `12:20` (UTC, the next one), or a duration from
/// now (`20m`); at most [`hoist_config::MAX_DURATION`] ahead, never past.
fn parse_until(text: &str) -> anyhow::Result<jiff::Timestamp> {
    let now = jiff::Timestamp::now();
    let latest = now
        .checked_add(jiff::SignedDuration::try_from(hoist_config::MAX_DURATION)?)
        .expect("a year from now is a valid timestamp");
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        if at <= now {
            bail!("`--until {text}` is in the past; give a later time or a duration like 20m");
        }
        if at > latest {
            bail!("`--until {text}` is over the limit of 365 days from now");
        }
        return Ok(at);
    }
    // A time of day before a duration: `12:20:30` reads as both.
    if let Ok(time) = text.parse::<jiff::civil::Time>() {
        let today = now
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_datetime(time)
            .to_zoned(jiff::tz::TimeZone::UTC)?
            .timestamp();
        return Ok(if today > now {
            today
        } else {
            today + jiff::SignedDuration::from_hours(24)
        });
    }
    match hoist_config::parse_duration(text) {
        Ok(span) => return Ok(now.checked_add(jiff::SignedDuration::try_from(span)?)?),
        Err(hoist_config::DurationError::NotADuration(_)) => {}
        Err(problem) => bail!("`--until`: {problem}"),
    }
    bail!("`--until {text}` is not a UTC time (2026-11-22T12:20:00Z, 12:20) or a duration (20m)")
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
