//! The `hoist` command line. Each subcommand lives in `commands/<name>.rs`
//! with its arguments and an `exec` that calls into the libraries; output
//! goes through [`output::Output`], so human and `--json` never drift apart.

mod cli;
mod commands;
mod failure;
mod flag_file;
mod fleet_progress;
mod hangup;
mod notes_range;
mod output;
mod progress;
mod report;
mod site;
mod systemd_unit;
mod target;

pub(crate) use failure::Failure;
use report::Report;
pub(crate) use report::UsageError;

use std::ffi::OsString;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for a failed operation.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for bad usage (clap uses it too).
pub const EXIT_USAGE: i32 = 2;

/// Runs hoist with `args` and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    let mut cli = match <cli::Cli as clap::Parser>::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            let json = args.iter().any(|arg| arg == "--json");
            if json && error.kind() == clap::error::ErrorKind::DisplayVersion {
                // `--json` callers parse stdout: the version is an object too.
                let version = serde_json::json!({ "version": env!("HOIST_LONG_VERSION") });
                println!("{version}");
                return EXIT_OK;
            }
            let _ = error.print();
            if !error.use_stderr() {
                return EXIT_OK;
            }
            // `--json` callers parse stdout: a usage error is a JSON object there too.
            if args.iter().any(|arg| arg == "--json") {
                // clap has said it on stderr already.
                Report::usage(&error, &args).print_json();
            }
            return EXIT_USAGE;
        }
    };
    // Read here, not by clap: an empty `HOIST_ROOT=` means unset, not "a
    // value is required for `--root`".
    if cli.global.root.is_none() {
        cli.global.root = std::env::var_os("HOIST_ROOT")
            .filter(|root| !root.is_empty())
            .map(std::path::PathBuf::from);
    }
    init_logging();
    let json = cli.global.json;
    match commands::exec(cli) {
        Ok(code) => code,
        Err(error) if report::is_broken_pipe(&error) => EXIT_OK,
        Err(error) if error.chain().any(|cause| cause.is::<UsageError>()) => {
            Report::from_error(&error).print(json);
            EXIT_USAGE
        }
        Err(error) => {
            Report::from_error(&error).print(json);
            EXIT_FAILURE
        }
    }
}

/// The log target of the agent's start and stop lines, which the default
/// filter lets through at `info`: a daemon says why it stopped.
pub(crate) const LIFECYCLE: &str = "hoist::lifecycle";

/// Warnings and errors go to stderr as logfmt by default, so an agent
/// under attack or with a backend down says so without being asked.
/// `HOIST_LOG` sets the filter (`debug`, `hoist_proxy=info`, `off`);
/// `HOIST_LOG_FORMAT` is `logfmt` (the default), `json` or `text`.
/// rustls warns about what a TLS client sends (an IP address as its server
/// name, on every connection from wrk and some scanners): the client's
/// doing, once per handshake, so anyone could fill the log; its errors stay.
fn init_logging() {
    let filter = std::env::var("HOIST_LOG")
        .unwrap_or_else(|_| format!("warn,rustls=error,{LIFECYCLE}=info"));
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let format = std::env::var("HOIST_LOG_FORMAT").unwrap_or_default();
    let _ = match format.as_str() {
        "json" => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .json()
            .try_init(),
        "text" => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init(),
        _ => tracing_logfmt::builder()
            .with_span_name(false)
            .with_span_path(false)
            .subscriber_builder()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init(),
    };
}
