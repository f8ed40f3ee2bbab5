//! A real Prometheus (Debian `prometheus`) scraping one target, for tests:
//! its own config and storage in a temp dir, on a free loopback port,
//! stopped by pid on drop.

use super::agent_process::free_port;
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/prometheus";

/// A running Prometheus.
pub struct Prometheus {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`127.0.0.1:PORT`) every second,
    /// and waits until it says it is ready (`/-/ready`).
    pub fn scraping(target: &str) -> Prometheus {
        assert!(
            std::path::Path::new(BINARY).is_file(),
            "`{BINARY}` is missing: install the Debian package `prometheus` (scripts/test does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: hoist\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = std::process::Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(super::http::answers(port, "/-/ready")
            && super::http::get(port, "/-/ready").0 == 200)
        {
            assert!(
                Instant::now() < deadline,
                "Prometheus did not get ready within 60s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }

    /// The instant vector `query` evaluates to now: `(labels, value)` per series.
    pub fn query(&self, query: &str) -> Vec<(serde_json::Value, f64)> {
        let path = format!("/api/v1/query?query={}", encode(query));
        let (status, _, body) = super::http::get(self.port, &path);
        assert_eq!(
            status, 200,
            "Prometheus answered {status} to {query}: {body}"
        );
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
        reply["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|series| {
                let value = series["value"][1].as_str().unwrap().parse().unwrap();
                (series["metric"].clone(), value)
            })
            .collect()
    }

    /// Polls `query` (Prometheus scrapes once a second) until its one
    /// series has `value`, for at most `within`; returns what it last saw.
    pub fn wait_for(
        &self,
        query: &str,
        value: f64,
        within: Duration,
    ) -> Vec<(serde_json::Value, f64)> {
        let deadline = Instant::now() + within;
        loop {
            let result = self.query(query);
            if result.len() == 1 && result[0].1 == value || Instant::now() >= deadline {
                return result;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
