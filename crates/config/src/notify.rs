//! `[[notify]]`: where hoist sends a message after a deploy, a rollback,
//! the agent's automatic rollback, or a failure.
//!
//! A host setting (listed in [`crate::HOST_KEYS`], kept in `site.toml`):
//! endpoints and mail servers differ between staging and production, and
//! credentials belong to the machine, so they never ship in a release.
//! Secrets are never written here either: `user_var` and `password_var`
//! name variables of the site's env file (`[process] env_file`), read
//! when a message is sent.
//!
//! ```toml
//! [[notify]]
//! kind = "webhook"
//! url = "https://hooks.slack.com/services/T000/B000/XXXX"
//! format = "slack"
//! on = ["deploy", "rollback", "auto_rollback", "failure"]
//!
//! [[notify]]
//! kind = "email"
//! smtp_host = "mail.example.org"
//! smtp_port = 587
//! starttls = true
//! from = "hoist@example.org"
//! to = ["ops@example.org"]
//! user_var = "SMTP_USER"
//! password_var = "SMTP_PASSWORD"
//! ```

use serde::Deserialize;
use std::time::Duration;

/// One `[[notify]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Notify {
    /// `webhook` or `email`.
    pub kind: NotifyKind,
    /// Which events it is told of; all of them when left out.
    #[serde(default = "NotifyOn::all")]
    pub on: Vec<NotifyOn>,
    /// Webhook: the URL a message is POSTed to.
    pub url: Option<String>,
    /// Webhook: the body, generic JSON or Slack's `{"text": …}`.
    #[serde(default)]
    pub format: WebhookFormat,
    /// Email: the SMTP server.
    pub smtp_host: Option<String>,
    /// Email: its port (default 25; 465 with `tls`, 587 with `starttls`
    /// is the usual choice).
    pub smtp_port: Option<u16>,
    /// Email: upgrade the connection with STARTTLS (required when set).
    #[serde(default)]
    pub starttls: bool,
    /// Email: connect with TLS from the start (SMTPS).
    #[serde(default)]
    pub tls: bool,
    /// Email: the sender.
    pub from: Option<String>,
    /// Email: the recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// Email: the env-file variable holding the SMTP user name.
    pub user_var: Option<String>,
    /// Email: the env-file variable holding the SMTP password.
    pub password_var: Option<String>,
    /// How long delivery is retried before it is recorded as failed.
    #[serde(
        default = "defaults::retry_for",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub retry_for: Duration,
    /// The first wait between tries; it doubles each time.
    #[serde(
        default = "defaults::backoff",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub backoff: Duration,
}

/// What a `[[notify]]` entry sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyKind {
    /// An HTTP POST.
    Webhook,
    /// A mail over SMTP.
    Email,
}

/// A webhook's body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The message as a JSON object.
    #[default]
    Json,
    /// `{"text": "…"}`, which Slack, Mattermost and Rocket.Chat take.
    Slack,
}

/// An event a `[[notify]]` entry can be told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyOn {
    /// A deploy went live.
    Deploy,
    /// A rollback by hand.
    Rollback,
    /// The agent rolled back a release its watch found failing.
    AutoRollback,
    /// A deploy or rollback failed.
    Failure,
}

impl NotifyOn {
    fn all() -> Vec<NotifyOn> {
        vec![
            NotifyOn::Deploy,
            NotifyOn::Rollback,
            NotifyOn::AutoRollback,
            NotifyOn::Failure,
        ]
    }

    /// The spelling in `on = […]`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOn::Deploy => "deploy",
            NotifyOn::Rollback => "rollback",
            NotifyOn::AutoRollback => "auto_rollback",
            NotifyOn::Failure => "failure",
        }
    }
}

impl Notify {
    /// The first thing wrong with this entry: (key, problem).
    pub(crate) fn problem(&self) -> Option<(&'static str, String)> {
        let is_email_key = self.smtp_host.is_some()
            || self.from.is_some()
            || !self.to.is_empty()
            || self.starttls
            || self.tls;
        match self.kind {
            NotifyKind::Webhook => match &self.url {
                None => Some(("url", "a webhook needs `url`".into())),
                Some(url) if !url.starts_with("http://") && !url.starts_with("https://") => Some((
                    "url",
                    format!("`{url}` must start with http:// or https://"),
                )),
                Some(_) if is_email_key => Some((
                    "kind",
                    "`smtp_host`, `from`, `to`, `tls` and `starttls` are for `kind = \"email\"`"
                        .into(),
                )),
                // Found now, not after ten minutes of retries in the deliverer.
                Some(url) => match url::Url::parse(url) {
                    Err(error) => Some(("url", format!("`{url}` is not a URL: {error}"))),
                    Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
                        Some(("url", format!("`{url}` names no host")))
                    }
                    Ok(parsed) if parsed.port() == Some(0) => {
                        Some(("url", format!("`{url}`: port 0 is no port to send to")))
                    }
                    Ok(_) => None,
                },
            },
            NotifyKind::Email => {
                if self.smtp_host.is_none() {
                    Some(("smtp_host", "an email entry needs `smtp_host`".into()))
                } else if self.from.is_none() {
                    Some(("from", "an email entry needs `from`".into()))
                } else if self.to.is_empty() {
                    Some(("to", "an email entry needs at least one `to`".into()))
                } else if self.tls && self.starttls {
                    Some((
                        "tls",
                        "`tls` and `starttls` exclude each other: pick one".into(),
                    ))
                } else if self.url.is_some() {
                    Some(("url", "`url` is for `kind = \"webhook\"`".into()))
                } else if self.smtp_port == Some(0) {
                    Some(("smtp_port", "port 0 is no port to send to".into()))
                } else if let Some(bad) = self
                    .from
                    .iter()
                    .chain(&self.to)
                    .find(|address| !looks_like_address(address))
                {
                    let key = if self.from.as_ref() == Some(bad) {
                        "from"
                    } else {
                        "to"
                    };
                    Some((
                        key,
                        format!("`{bad}` is not a mail address (`name@example.org`, or `Name <name@example.org>`)"),
                    ))
                } else {
                    None
                }
            }
        }
    }
}

/// `user@host` or `Name <user@host>`: the shapes a mail server takes; the
/// full grammar is the mailer's to check, this catches the typo early.
fn looks_like_address(text: &str) -> bool {
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text,
    };
    match address.split_once('@') {
        Some((user, host)) => {
            !user.is_empty()
                && !host.is_empty()
                && !host.contains('@')
                && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

mod defaults {
    use std::time::Duration;
    pub(super) fn retry_for() -> Duration {
        Duration::from_secs(600)
    }
    pub(super) fn backoff() -> Duration {
        Duration::from_secs(2)
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::Path;

    fn parse(entry: &str) -> Result<Config, String> {
        Config::parse(
            &format!("[app]\nname = \"x\"\n{entry}"),
            Path::new("hoist.toml"),
        )
        .map_err(|error| error.to_string())
    }

    #[test]
    fn entries_parse_and_unknown_keys_are_named() {
        let config = parse("[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\nformat = \"slack\"\non = [\"deploy\"]\n").unwrap();
        assert_eq!(config.notify.len(), 1);
        let error =
            parse("[[notify]]\nkind = \"webhook\"\nurl = \"http://h/\"\npassword = \"x\"\n")
                .unwrap_err();
        assert!(error.contains("`password`"), "{error}");
        let error =
            parse("[[notify]]\nkind = \"email\"\nsmtp_host = \"h\"\nfrom = \"a@b\"\n").unwrap_err();
        assert!(error.contains("`notify[0].to`"), "{error}");
    }

    /// A webhook URL with a space, port 0, or a `from` that is no address
    /// passed validation and failed only in the deliverer, after ten
    /// minutes of retries.
    #[test]
    fn bad_notify_values_failed_only_after_retries() {
        for (entry, key) in [
            ("kind = \"webhook\"\nurl = \"http://127.0.0.1:0/x\"", "url"),
            ("kind = \"webhook\"\nurl = \"http://exa mple.org/x\"", "url"),
            ("kind = \"email\"\nsmtp_host = \"h\"\nsmtp_port = 0\nfrom = \"a@b\"\nto = [\"c@d\"]", "smtp_port"),
            ("kind = \"email\"\nsmtp_host = \"h\"\nfrom = \"not an address\"\nto = [\"c@d\"]", "from"),
            ("kind = \"email\"\nsmtp_host = \"h\"\nfrom = \"a@b\"\nto = [\"ops\"]", "to"),
        ] {
            let error = parse(&format!("[[notify]]\n{entry}\n")).unwrap_err();
            assert!(error.contains(&format!("`notify[0].{key}`")), "{entry}: {error}");
        }
        parse("[[notify]]\nkind = \"email\"\nsmtp_host = \"h\"\nfrom = \"Hoist <a@b.org>\"\nto = [\"c@d\"]\n").unwrap();
    }
}
