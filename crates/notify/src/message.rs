//! What a notification says: release, stage, who, why, how long, the
//! deployment notes, and how it went.

use crate::Event;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// One notification, as the generic JSON webhook sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Unique per message and the same on every try: a receiver that got
    /// it twice (a deliverer killed after sending, before it could note it)
    /// drops the second copy by it. Webhooks get it as `Idempotency-Key`,
    /// mail as its `Message-ID`.
    #[serde(default)]
    pub id: String,
    /// What happened.
    pub event: Event,
    /// How it ended: `ok`, `failed`, `rolled-back`, `refused`.
    pub outcome: String,
    /// The release it was about (the one deployed, or rolled back to).
    pub release: Option<String>,
    /// The release live before.
    pub previous: Option<String>,
    /// The fleet operation it was part of (`hoist deploy --stage`).
    pub stage: Option<String>,
    /// Who ran it (`agent` for the agent's own rollback).
    pub who: String,
    /// Why (`--reason`, or what the agent's watch found).
    pub why: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// The deployment notes shown before the switch.
    pub notes: Option<String>,
    /// What went wrong, for a failure.
    pub detail: Option<String>,
    /// The host.
    pub host: String,
    /// The site root on it.
    pub site: String,
    /// When it was sent.
    pub at: jiff::Timestamp,
}

impl Message {
    /// A message about `event` on the site at `root`, now, by this user
    /// on this host; set the rest with struct update syntax.
    pub fn now(event: Event, outcome: &str, root: &Path) -> Message {
        let at = jiff::Timestamp::now();
        Message {
            id: unique_id(),
            event,
            outcome: outcome.to_owned(),
            release: None,
            previous: None,
            stage: None,
            who: hoist_site::user_name(),
            why: None,
            duration_ms: 0,
            notes: None,
            detail: None,
            host: hoist_site::host_name(),
            site: root.display().to_string(),
            at,
        }
    }

    /// This message with no control characters in its text, newlines kept
    /// only in the notes and the failure detail, and those two bounded
    /// ([`crate::clean`]): what is spooled and sent.
    pub fn cleaned(&self) -> Message {
        let line = |value: &Option<String>| value.as_deref().map(crate::clean::line);
        let block = |value: &Option<String>| value.as_deref().map(crate::clean::block);
        Message {
            outcome: crate::clean::line(&self.outcome),
            release: line(&self.release),
            previous: line(&self.previous),
            stage: line(&self.stage),
            who: crate::clean::line(&self.who),
            why: line(&self.why),
            notes: block(&self.notes),
            detail: block(&self.detail),
            host: crate::clean::line(&self.host),
            site: crate::clean::line(&self.site),
            ..self.clone()
        }
    }

    /// One line: what, which release, where, how it went.
    pub fn subject(&self) -> String {
        let release = self.release.as_deref().unwrap_or("-");
        format!(
            "hoist {} of `{release}` on {}: {}",
            self.event.as_str(),
            self.host,
            self.outcome
        )
    }

    /// The whole message as text (Slack's `text`, the mail's body).
    pub fn text(&self) -> String {
        let mut out = self.subject();
        out.push('\n');
        let mut field = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                let _ = writeln!(out, "{name}: {value}");
            }
        };
        field("release", self.release.as_deref());
        field("previous", self.previous.as_deref());
        field("stage", self.stage.as_deref());
        field("who", Some(&self.who));
        field("why", self.why.as_deref());
        field("took", Some(&format!("{} ms", self.duration_ms)));
        field("site", Some(&format!("{}:{}", self.host, self.site)));
        field("problem", self.detail.as_deref());
        if let Some(notes) = &self.notes {
            let _ = write!(out, "notes:\n{notes}");
        }
        out
    }
}

/// `<nanoseconds since the epoch>-<pid>-<n>`: unique on this host without
/// a random source (two ids of one process differ in `n`), and sorting by
/// time, as the spool's files are taken oldest first. Messages and spool
/// files are named so.
pub(crate) fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        jiff::Timestamp::now().as_nanosecond(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
