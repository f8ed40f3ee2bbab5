//! Notifications after a deploy, a rollback, the agent's automatic
//! rollback, or a failure: a webhook (generic JSON or Slack's
//! `{"text": …}`) or a mail over SMTP, per `[[notify]]` entry.
//!
//! Delivery never blocks or fails the operation it tells of:
//!
//! ```text
//! send ─► spool: <root>/notify/<id>.json (temp, fsync, rename)   one file per entry and message
//!     └─► spawn `hoist notify-deliver --root ROOT` (detached, own session)
//!            for each spooled file it can lock: try, back off ×2, … until `retry_for`
//!            ├─ delivered: remove the file
//!            └─ given up:  log it, record a `notify` event (outcome failed), remove the file
//! ```
//!
//! The spool makes a message survive the command that wrote it; the file
//! lock (`flock`) makes two deliverers never send one message twice, and
//! lets a later one take over a file whose deliverer died.
//!
//! Layout: [`message`] (what is said), [`clean`] (its text made safe and bounded), [`target`] (where to, from the
//! config), [`spool`], [`deliver`] (the deliverer's loop), [`webhook`],
//! [`email`].
//!
//! ```no_run
//! use hoist_notify::{Message, Event};
//! let message = Message::now(Event::Deploy, "ok", "/srv/shop".as_ref());
//! let entries: Vec<hoist_config::Notify> = Vec::new();
//! hoist_notify::send("/srv/shop".as_ref(), &entries, None, &message).unwrap();
//! ```

pub mod clean;
pub mod deliver;
pub mod email;
mod error;
pub mod message;
pub mod spool;
pub mod target;
pub mod webhook;

pub use error::NotifyError;
pub use hoist_config::NotifyOn as Event;
pub use message::Message;
pub use target::Target;

use std::path::{Path, PathBuf};

/// The hidden subcommand that delivers spooled messages.
pub const SUBCOMMAND: &str = "notify-deliver";

/// Spools `message` for every entry of `entries` that wants its event,
/// then starts a detached deliverer. Returns the spooled files (none when
/// no entry wants it). `env_file` is the site's `[process] env_file`,
/// where email credentials are read at delivery.
pub fn send(
    root: &Path,
    entries: &[hoist_config::Notify],
    env_file: Option<&Path>,
    message: &Message,
) -> Result<Vec<PathBuf>, NotifyError> {
    let mut spooled = Vec::new();
    for entry in entries
        .iter()
        .filter(|entry| entry.on.contains(&message.event))
    {
        let delivery = spool::Delivery {
            target: Target::from_config(entry, env_file),
            message: message.cleaned(),
            retry_for_ms: entry.retry_for.as_millis() as u64,
            backoff_ms: entry.backoff.as_millis() as u64,
        };
        spooled.push(spool::write(root, &delivery)?);
    }
    if !spooled.is_empty() {
        deliver::spawn(root)?;
    }
    Ok(spooled)
}
