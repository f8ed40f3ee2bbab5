//! The maintenance flag file for sites served by nginx without an agent:
//! `<root>/maintenance` (or `[maintenance] flag_file`) whose existence is
//! all a web server's `if (-f ...)` looks at, and whose text is the message.
//! What else `maint on` was told (`--until`, when it was set) goes into a
//! sidecar `<flag>.json`, so `status` can say it and an agent started later
//! can show the time; the flag file itself stays plain text. The sidecar
//! counts only while the flag file still says what it recorded: a flag
//! file written anew by a script or by hand is not dated by an old record.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `maint on` recorded beside the flag file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlagRecord {
    /// What the page says.
    pub message: String,
    /// When the site should be back, if `--until` was given.
    pub until: Option<jiff::Timestamp>,
    /// When maintenance was turned on.
    pub since: jiff::Timestamp,
}

/// Maintenance by flag file, as `status` shows it.
#[derive(Debug, Serialize)]
pub struct FlagState {
    /// The flag file.
    pub path: PathBuf,
    /// What `maint on` recorded; `None` for a flag made by `touch`.
    #[serde(flatten)]
    pub record: Option<FlagRecord>,
    /// `until` has passed: a web server still shows the page while the
    /// file is there (nothing removes it by itself), so this is said loudly.
    pub expired: bool,
}

/// The flag file of the site at `root`.
pub fn path(root: &Path, config: Option<&hoist_config::Config>) -> PathBuf {
    let relative = config
        .and_then(|config| config.maintenance.flag_file.clone())
        .unwrap_or_else(|| "maintenance".into());
    root.join(relative)
}

/// `<flag>.json`.
pub fn sidecar(flag: &Path) -> PathBuf {
    let mut name = flag.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Writes the flag file (the message) and its record.
pub fn write(flag: &Path, record: &FlagRecord) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(record)?;
    hoist_site::durable::write_atomic(&sidecar(flag), &json)?;
    hoist_site::durable::write_atomic(flag, format!("{}\n", record.message).as_bytes())?;
    Ok(())
}

/// Removes the flag file and its record; true if the flag was there.
pub fn remove(flag: &Path) -> anyhow::Result<bool> {
    let had_flag = flag.exists();
    if had_flag {
        hoist_site::durable::remove_file(flag)?;
    }
    let record = sidecar(flag);
    if record.exists() {
        hoist_site::durable::remove_file(&record)?;
    }
    Ok(had_flag)
}

/// The flag's state, or `None` when there is no flag file.
pub fn read(flag: &Path) -> Option<FlagState> {
    if !flag.is_file() {
        return None;
    }
    let text = std::fs::read(flag).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let record: Option<FlagRecord> = std::fs::read(sidecar(flag))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<FlagRecord>(&bytes).ok())
        .filter(|record| belongs(record, &text));
    let now = jiff::Timestamp::now();
    let expired = record
        .as_ref()
        .and_then(|record| record.until)
        .is_some_and(|until| until <= now);
    Some(FlagState {
        path: flag.to_owned(),
        record,
        expired,
    })
}

/// Whether `record` was written with the flag file that now says `text`.
fn belongs(record: &FlagRecord, text: &str) -> bool {
    record.message.trim() == text.trim()
}

impl FlagState {
    /// The `status` line: `on (flag file `...`) until ...: message`.
    pub fn line(&self) -> String {
        let mut line = format!("on (flag file `{}`)", self.path.display());
        let Some(record) = &self.record else {
            return line;
        };
        if let Some(until) = record.until {
            let at = until.strftime("%Y-%m-%d %H:%M:%S UTC");
            if self.expired {
                line = format!(
                    "{line}, planned until {at}, which has passed: the flag file is still there, so a web server still shows the page; `hoist maint off` ends it"
                );
            } else {
                line = format!("{line} until {at}");
            }
        }
        format!("{line}: {}", record.message)
    }
}
