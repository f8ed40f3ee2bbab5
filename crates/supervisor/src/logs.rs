//! App output to a per-release log file, rotated by size.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Past this size the log is renamed to `<name>.1` and started afresh.
const ROTATE_BYTES: u64 = 10 * 1024 * 1024;

/// A log file shared by a process's stdout and stderr pumps.
#[derive(Debug, Clone)]
pub(crate) struct Log {
    inner: Arc<Mutex<LogFile>>,
}

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
}

impl Log {
    pub(crate) fn open(path: &Path) -> std::io::Result<Log> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Log {
            inner: Arc::new(Mutex::new(LogFile {
                path: path.to_owned(),
                file,
                size,
            })),
        })
    }

    fn write_line(&self, line: &[u8]) {
        let mut log = self.inner.lock().expect("log lock is never poisoned");
        if log.size + line.len() as u64 > ROTATE_BYTES {
            let rotated = log.path.with_extension("log.1");
            if std::fs::rename(&log.path, rotated).is_ok() {
                if let Ok(file) = OpenOptions::new().create(true).append(true).open(&log.path) {
                    log.file = file;
                    log.size = 0;
                }
            }
        }
        if log.file.write_all(line).is_ok() {
            log.size += line.len() as u64;
        }
    }

    /// Copies `stream` into the log line by line until it closes.
    pub(crate) fn pump(&self, stream: impl AsyncRead + Unpin + Send + 'static) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream);
            let mut line = Vec::new();
            while lines
                .read_until(b'\n', &mut line)
                .await
                .is_ok_and(|read| read > 0)
            {
                log.write_line(&line);
                line.clear();
            }
        });
    }

    /// The last `count` lines, for error messages and the ledger.
    pub(crate) fn tail(&self, count: usize) -> String {
        let path = self
            .inner
            .lock()
            .expect("log lock is never poisoned")
            .path
            .clone();
        let text = std::fs::read(&path).unwrap_or_default();
        let start = text.len().saturating_sub(64 * 1024);
        let text = String::from_utf8_lossy(&text[start..]);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(count)..].join("\n")
    }
}
