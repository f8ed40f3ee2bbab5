//! The `hoist` command line. Each subcommand lives in `commands/<name>.rs`
//! with its arguments and an `exec` that calls into the libraries; output
//! goes through [`output::Output`], so human and `--json` never drift apart.

mod cli;
mod commands;
mod hangup;
mod output;
mod progress;
mod site;
mod target;

use std::ffi::OsString;
use std::io::Write as _;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for a failed operation.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for bad usage (clap uses it too).
pub const EXIT_USAGE: i32 = 2;

/// Runs hoist with `args` and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match <cli::Cli as clap::Parser>::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            if !error.use_stderr() {
                return EXIT_OK;
            }
            // `--json` callers parse stdout: a usage error is a JSON object there too.
            if args.iter().any(|arg| arg == "--json") {
                let text = error.to_string();
                let first = text.lines().next().unwrap_or_default();
                let first = first.strip_prefix("error: ").unwrap_or(first);
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    serde_json::json!({ "error": first, "usage": true })
                );
            }
            return EXIT_USAGE;
        }
    };
    init_logging();
    let json = cli.global.json;
    match commands::exec(cli) {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return EXIT_OK;
            }
            let message = render(&error);
            if json {
                // `--json` callers parse stdout: the failure is a JSON object there too.
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    serde_json::json!({ "error": message })
                );
            }
            // Not `eprintln!`: a terminal that hung up must not turn this into a panic.
            let _ = writeln!(std::io::stderr().lock(), "error: {message}");
            EXIT_FAILURE
        }
    }
}

/// The error and its causes, each said once: library errors often quote
/// their source in their own message, and `{:#}` would print it again
/// ("No space left on device (os error 28): No space left on device ...").
fn render(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Warnings and errors go to stderr as logfmt by default, so an agent
/// under attack or with a backend down says so without being asked.
/// `HOIST_LOG` sets the filter (`debug`, `hoist_proxy=info`, `off`);
/// `HOIST_LOG_FORMAT` is `logfmt` (the default), `json` or `text`.
fn init_logging() {
    let filter = std::env::var("HOIST_LOG").unwrap_or_else(|_| "warn".to_owned());
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

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
