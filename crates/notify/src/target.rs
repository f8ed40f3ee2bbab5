//! Where one message goes, taken from a `[[notify]]` entry when it is
//! spooled, so a later change to `site.toml` does not redirect it.
//! Credentials are not in it: only the names of the env-file variables.

use hoist_config::{Notify, NotifyKind, WebhookFormat};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A webhook or a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// POST to `url`.
    Webhook {
        /// Where.
        url: String,
        /// `json` or `slack`.
        slack: bool,
    },
    /// Mail over SMTP.
    Email {
        /// The server.
        host: String,
        /// Its port.
        port: u16,
        /// STARTTLS, required.
        starttls: bool,
        /// TLS from the start.
        tls: bool,
        /// Sender.
        from: String,
        /// Recipients.
        to: Vec<String>,
        /// The site's env file, where the credentials are.
        env_file: Option<PathBuf>,
        /// The variable with the user name.
        user_var: Option<String>,
        /// The variable with the password.
        password_var: Option<String>,
    },
}

impl Target {
    /// The target of `entry` (already validated by the config).
    pub fn from_config(entry: &Notify, env_file: Option<&Path>) -> Target {
        match entry.kind {
            NotifyKind::Webhook => Target::Webhook {
                url: entry.url.clone().unwrap_or_default(),
                slack: entry.format == WebhookFormat::Slack,
            },
            NotifyKind::Email => Target::Email {
                host: entry.smtp_host.clone().unwrap_or_default(),
                port: entry.smtp_port.unwrap_or(if entry.tls { 465 } else { 25 }),
                starttls: entry.starttls,
                tls: entry.tls,
                from: entry.from.clone().unwrap_or_default(),
                to: entry.to.clone(),
                env_file: env_file.map(Path::to_owned),
                user_var: entry.user_var.clone(),
                password_var: entry.password_var.clone(),
            },
        }
    }

    /// How logs and the ledger name it (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Target::Webhook { url, slack } => {
                format!(
                    "webhook `{url}` ({})",
                    if *slack { "slack" } else { "json" }
                )
            }
            Target::Email { host, port, to, .. } => {
                format!("email to {} via `{host}:{port}`", to.join(", "))
            }
        }
    }

    /// Sends `message` once.
    pub fn send(&self, message: &crate::Message) -> Result<(), String> {
        match self {
            Target::Webhook { url, slack } => crate::webhook::post(url, *slack, message),
            Target::Email { .. } => crate::email::send(self, message),
        }
    }
}
