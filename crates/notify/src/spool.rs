//! The spool: one JSON file per message and target in `<root>/notify/`,
//! written whole (temp file, fsync, rename, fsync of the directory) so a
//! crash leaves either the message or nothing, never half of it.

use crate::{Message, NotifyError, Target};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
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

/// Writes `delivery` durably; returns its file.
pub fn write(root: &Path, delivery: &Delivery) -> Result<PathBuf, NotifyError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = dir(root);
    let wrap = |path: &Path| {
        let path = path.to_owned();
        move |cause| NotifyError::Spool { path, cause }
    };
    // Private: messages name people, hosts and notes.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(wrap(&dir))?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!(
        "{}-{}-{count}",
        jiff::Timestamp::now().as_nanosecond(),
        std::process::id()
    );
    let path = dir.join(format!("{id}.json"));
    let temp = dir.join(format!(".{id}.tmp"));
    let body = serde_json::to_vec_pretty(delivery).expect("deliveries serialize");
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&temp)
        .map_err(wrap(&temp))?;
    file.write_all(&body).map_err(wrap(&temp))?;
    file.sync_all().map_err(wrap(&temp))?;
    std::fs::rename(&temp, &path).map_err(wrap(&path))?;
    std::fs::File::open(&dir)
        .and_then(|dir| dir.sync_all())
        .map_err(wrap(&dir))?;
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
