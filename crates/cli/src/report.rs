//! Errors are rendered here and nowhere else: the message is the chain of
//! causes, each said once (library errors that quote a cause in their
//! message do not also return it as their `source()`), and the kind and
//! hint come from the innermost typed hoist error ([`Described`]).
//!
//! Human: `error: <message>` and `  hint: <hint>` on stderr. `--json`: the
//! same as `{"error": {"kind", "message", "hint"}}` on stdout, since
//! `--json` callers parse stdout.

use hoist_error::Described;
use serde::Serialize;
use std::error::Error;
use std::io::Write as _;

/// An error as a person or a script is told it.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Stable kebab-case name (`lock-held`, `usage`, `error` when untyped).
    kind: &'static str,
    /// What went wrong, causes included.
    message: String,
    /// The command that gets out of it.
    hint: Option<String>,
}

impl Report {
    /// The report for a failed command.
    pub fn from_error(error: &anyhow::Error) -> Report {
        let message = error
            .chain()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        // The innermost typed error knows best what happened.
        let described = error.chain().filter_map(described).last();
        Report {
            kind: described.map_or("error", |error| error.kind()),
            message,
            hint: described.and_then(|error| error.hint()),
        }
    }

    /// The report for a command line clap refused.
    pub fn usage(error: &clap::Error, args: &[std::ffi::OsString]) -> Report {
        let text = error.to_string();
        let first = text.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first).to_owned();
        // `hoist <subcommand> --help` for the first word that names one
        // (not an option's value: `--root /srv/shop`).
        let command = <crate::cli::Cli as clap::CommandFactory>::command();
        let subcommand = args
            .iter()
            .skip(1)
            .filter_map(|arg| arg.to_str())
            .find(|arg| command.find_subcommand(arg).is_some());
        let hint = match subcommand {
            Some(name) => format!("hoist {name} --help"),
            None => "hoist --help".to_owned(),
        };
        Report {
            kind: "usage",
            message,
            hint: Some(hint),
        }
    }

    /// Prints the report: JSON on stdout under `--json`, and always the
    /// human lines on stderr (not `eprintln!`: a terminal that hung up must
    /// not turn this into a panic).
    pub fn print(&self, json: bool) {
        if json {
            self.print_json();
        }
        self.print_human();
    }

    /// Only the JSON object, on stdout.
    pub fn print_json(&self) {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::json!({ "error": self })
        );
    }

    /// Only the human lines, on stderr.
    pub fn print_human(&self) {
        let mut stderr = std::io::stderr().lock();
        let message = crate::output::printable(&self.message);
        let _ = writeln!(stderr, "error: {message}");
        if let Some(hint) = &self.hint {
            let _ = writeln!(stderr, "  hint: {}", crate::output::printable(hint));
        }
    }
}

/// A value clap accepted but the command found out of range (a date in the
/// past, a duration over a year): a usage error like clap's own, exit 2.
#[derive(Debug)]
pub struct UsageError {
    /// What is wrong with the argument, naming it.
    pub message: String,
    /// What to write instead.
    pub hint: Option<String>,
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for UsageError {}

impl Described for UsageError {
    fn kind(&self) -> &'static str {
        "usage"
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// The hoist error `cause` is, if it is one.
fn described<'a>(cause: &'a (dyn Error + 'static)) -> Option<&'a dyn Described> {
    macro_rules! try_types {
        ($($error:ty),* $(,)?) => {
            $(if let Some(error) = cause.downcast_ref::<$error>() {
                return Some(error);
            })*
        };
    }
    try_types!(
        UsageError,
        crate::Failure,
        hoist_deploy::DeployError,
        hoist_agent::AgentError,
        hoist_data::DataError,
        hoist_db::DbError,
        hoist_store::StoreError,
        hoist_store::depot::ShipError,
        hoist_site::SiteError,
        hoist_ledger::LedgerError,
        hoist_config::ConfigError,
        hoist_fleet::FleetError,
        hoist_balancer::BalancerError,
    );
    None
}

/// True when the failure is stdout closed under us (`hoist releases | head`):
/// that is the reader's choice, not an error to report.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                // serde_json wraps the io error and does not return it as its source.
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}
