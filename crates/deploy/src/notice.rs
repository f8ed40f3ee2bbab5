//! Telling the site's `[[notify]]` entries how a deploy or rollback went.
//!
//! The message is spooled and handed to a detached deliverer
//! ([`hoist_notify`]), so this returns at once and never fails the
//! operation: a message that cannot even be spooled is a warning.

use crate::{Context, DeployError, Reporter};
use hoist_notify::{Event, Message};

/// What to say about one operation.
#[derive(Debug, Default)]
pub(crate) struct Notice {
    pub(crate) release: Option<String>,
    pub(crate) previous: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) duration_ms: u64,
    pub(crate) notes: Option<String>,
}

/// Tells the site's `[[notify]]` entries that `event` ended in `result`:
/// an error turns it into a `failure` carrying the error.
pub(crate) fn tell<T>(
    context: &Context,
    event: Event,
    result: &Result<T, DeployError>,
    notice: Notice,
    reporter: &dyn Reporter,
) {
    let Ok(Some(site)) = context.site_settings() else {
        return;
    };
    if site.notify().is_empty() {
        return;
    }
    let root = context.site.root();
    let (event, outcome, detail) = match result {
        Ok(_) => (event, "ok", None),
        Err(error) => (Event::Failure, "failed", Some(error.to_string())),
    };
    let mut message = Message {
        release: notice.release,
        previous: notice.previous,
        stage: context.fleet_op.clone(),
        why: notice.reason,
        duration_ms: notice.duration_ms,
        notes: notice.notes,
        detail,
        ..Message::now(event, outcome, root)
    };
    if event == Event::AutoRollback {
        message.who = format!("agent (as {})", message.who);
    }
    let env_file = site.env_file().map(|file| root.join(file));
    if let Err(error) = hoist_notify::send(root, site.notify(), env_file.as_deref(), &message) {
        reporter.warn(&format!("no notification was sent: {error}"));
    }
}
