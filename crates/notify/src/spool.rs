//! The spool: one JSON file per message and target in `<root>/notify/`,
//! written whole (temp file, fsync, rename, fsync of the directory) so a
//! crash leaves either the message or nothing, never half of it.

use crate::{Message, NotifyError, Target};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One spooled delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Where it goes.
    pub target: Target,
    /// What it says.
    pub message: Message,
    /// How long to keep trying.
    pub retry_for_ms: u64,
    /// The first wait between tries.
    pub backoff_ms: u64,
}

/// `<root>/notify`.
pub fn dir(root: &Path) -> PathBuf {
    root.join("notify")
}

/// The deliverer's log, `<root>/notify/deliver.log`.
pub fn log_path(root: &Path) -> PathBuf {
    dir(root).join("deliver.log")
}

/// Writes `delivery` durably (hoist-site's temp file, fsync, rename,
/// directory fsync), readable by the owner only; returns its file.
pub fn write(root: &Path, delivery: &Delivery) -> Result<PathBuf, NotifyError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = dir(root);
    // Private: messages name people, hosts and notes.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|cause| NotifyError::Spool {
            path: dir.clone(),
            cause,
        })?;
    // Unique per delivery: one message to two targets is two files.
    let path = dir.join(format!("{}.json", crate::message::unique_id()));
    let body = serde_json::to_vec_pretty(delivery).expect("deliveries serialize");
    hoist_site::durable::write_state(&path, &body, hoist_site::StateAccess::PRIVATE)?;
    Ok(path)
}

/// The spooled files, oldest first.
pub fn list(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir(root)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// Reads a spooled delivery.
pub fn read(path: &Path) -> Result<Delivery, String> {
    let text = std::fs::read(path).map_err(|error| error.to_string())?;
    serde_json::from_slice(&text).map_err(|error| format!("unreadable: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    #[test]
    fn a_spooled_delivery_reads_back_whole_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let delivery = Delivery {
            target: Target::Webhook {
                url: "http://127.0.0.1:1/".into(),
                slack: true,
            },
            message: Message {
                release: Some("r2".into()),
                notes: Some("abc Fix\n".into()),
                ..Message::now(Event::Deploy, "ok", dir.path())
            },
            retry_for_ms: 1000,
            backoff_ms: 10,
        };
        let path = write(dir.path(), &delivery).unwrap();
        assert_eq!(list(dir.path()), std::slice::from_ref(&path));
        assert_eq!(read(&path).unwrap(), delivery);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = delivery.message.text();
        assert!(text.starts_with("hoist deploy of `r2` on "), "{text}");
        assert!(text.ends_with("notes:\nabc Fix\n"), "{text}");
    }
}
