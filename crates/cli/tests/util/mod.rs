//! Runs the real `hoist` binary against a temporary source dir and site.
#![allow(dead_code)]

pub mod agent_process;
pub mod app_processes;
pub mod chromium;
pub mod counted_load;
pub mod craft;
pub mod fleet_app;
pub mod fleet_host;
pub mod fleet_hosts;
pub mod git_repo;
pub mod haproxy;
pub mod held_lock;
pub mod http;
pub mod hypnotoad;
pub mod keepalive;
pub mod lock_watch;
pub mod log_lines;
pub mod namespace;
pub mod prometheus;
pub mod schema_app;
pub mod schema_fleet;
pub mod schema_load;
pub mod schema_person;
pub mod schema_rows;
pub mod schema_scenario;
pub mod smtp_server;
pub mod sshd_config;
pub mod stage_fixture;
pub mod static_app;
pub mod tmpfs;
pub mod webhook_receiver;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_hoist");

/// A source tree (`src/`) with a hoist.toml whose root is `site/`.
pub struct Env {
    pub dir: tempfile::TempDir,
}

pub const DEFAULT_CONFIG: &str = r#"
[app]
name = "shop"
version = "1.0.0"
[deploy]
root = "../site"
keep_releases = 3
shared = ["log/"]
checks = ["test -f index.html"]
"#;

/// [`DEFAULT_CONFIG`] with a SQLite `[database]` in `shared/`, then `extra`.
pub fn sqlite_config(extra: &str) -> String {
    format!("{DEFAULT_CONFIG}[database]\nurl = \"sqlite://shared/app.db\"\nlock_timeout = \"2s\"\n{extra}")
}

/// Writes `count` files of `lines` lines of seeded hex text (it does not
/// compress to nothing) at `path(index)`; those in `changed` get
/// `version`'s text, the rest the same text every time.
pub fn write_seeded_files(
    env: &Env,
    count: usize,
    lines: usize,
    version: &str,
    changed: std::ops::Range<usize>,
    path: impl Fn(usize) -> String,
) {
    for index in 0..count {
        let seed = if changed.contains(&index) {
            format!("{index} in {version}")
        } else {
            index.to_string()
        };
        let body: String = (0..lines)
            .map(|line| {
                blake3::hash(format!("{seed}/{line}").as_bytes())
                    .to_hex()
                    .to_string()
                    + "\n"
            })
            .collect();
        env.write(&path(index), &body);
    }
}

/// Appends to a sealed file as root would by hand: `chmod u+w`, then `>>`
/// (the same inode, so every release hard-linked to it sees the change).
pub fn tamper(path: &Path) {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o200)).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(b"planted\n")
        .unwrap();
}

impl Env {
    pub fn new() -> Env {
        Env::with_config(DEFAULT_CONFIG)
    }

    pub fn with_config(config: &str) -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        env.write("hoist.toml", config);
        env.write("index.html", "<h1>shop</h1>\n");
        env.write("lib/app.txt", "app code\n");
        env
    }

    pub fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    pub fn site(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.src().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Replaces the version in hoist.toml, so the next build gets a new id.
    pub fn set_version(&self, version: &str) {
        let path = self.src().join("hoist.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text
            .lines()
            .find(|line| line.starts_with("version"))
            .unwrap()
            .to_owned();
        std::fs::write(
            &path,
            text.replace(&line, &format!("version = \"{version}\"")),
        )
        .unwrap();
    }

    pub fn hoist(&self) -> Cmd {
        Cmd::new(&self.src())
    }

    /// Builds the source and returns (release id, artifact path).
    pub fn build(&self) -> (String, PathBuf) {
        let json = self.hoist().args(["build", "--json"]).run_json();
        (
            json["release"].as_str().unwrap().to_owned(),
            PathBuf::from(json["artifact"].as_str().unwrap()),
        )
    }

    /// Builds and deploys version `version`; returns the release id.
    pub fn deploy_version(&self, version: &str) -> String {
        self.set_version(version);
        self.write("index.html", &format!("<h1>shop {version}</h1>\n"));
        let (id, artifact) = self.build();
        self.hoist().arg("deploy").arg(artifact).run();
        id
    }

    /// The names of the applied migrations, oldest first (`hoist db status --json`).
    pub fn applied(&self) -> Vec<String> {
        let status = self.hoist().args(["db", "status", "--json"]).run_json();
        status["applied"]
            .as_array()
            .unwrap_or_else(|| panic!("no `applied` in {status}"))
            .iter()
            .map(|row| row["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Runs `hoist ARGS` with a SIGKILL at the journal step `step`
    /// (`HOIST_FAULT_KILL_AT`); panics unless it died there.
    pub fn kill_at(&self, args: &[&str], step: &str) {
        use std::os::unix::process::ExitStatusExt as _;
        let status = self
            .hoist()
            .args(args)
            .env("HOIST_FAULT_KILL_AT", step)
            .status();
        assert_eq!(
            status.signal(),
            Some(9),
            "`hoist {}` was not killed at `{step}`",
            args.join(" ")
        );
    }

    /// `releases/<id>` of the site.
    pub fn release_dir(&self, id: &str) -> PathBuf {
        self.site().join("releases").join(id)
    }

    /// `hoist verify --json --release ID`: its report and exit code.
    pub fn verify(&self, id: &str) -> (Value, Option<i32>) {
        let output = self
            .hoist()
            .args(["verify", "--json", "--release", id])
            .output();
        let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "verify printed no JSON ({error}): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (json, output.status.code())
    }

    pub fn status(&self) -> Value {
        self.hoist().args(["status", "--json"]).run_json()
    }

    /// `hoist releases --json` as (id, state) pairs.
    pub fn releases(&self) -> Vec<(String, String)> {
        let json = self.hoist().args(["releases", "--json"]).run_json();
        json.as_array()
            .unwrap()
            .iter()
            .map(|release| {
                (
                    release["id"].as_str().unwrap().to_owned(),
                    release["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    pub fn live(&self) -> Option<String> {
        self.status()["live"].as_str().map(str::to_owned)
    }

    /// Reads a file through `current`, as the app would.
    pub fn read_current(&self, relative: &str) -> String {
        std::fs::read_to_string(self.site().join("current").join(relative)).unwrap()
    }
}

/// A fluent `hoist` invocation with expectations.
#[must_use]
pub struct Cmd {
    command: Command,
    expect_code: i32,
    stderr_has: Vec<String>,
}

impl Cmd {
    pub fn new(cwd: &Path) -> Cmd {
        let mut command = Command::new(BIN);
        command
            .current_dir(cwd)
            .env_remove("HOIST_ROOT")
            .env_remove(hoist_fault());
        Cmd {
            command,
            expect_code: 0,
            stderr_has: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.command.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, args: I) -> Cmd {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.command.env(key, value);
        self
    }

    /// Expects exit code `code` instead of 0.
    pub fn code(mut self, code: i32) -> Cmd {
        self.expect_code = code;
        self
    }

    /// Expects stderr to contain `text`.
    pub fn stderr_has(mut self, text: &str) -> Cmd {
        self.stderr_has.push(text.to_owned());
        self
    }

    #[track_caller]
    pub fn run(mut self) -> Output {
        let output = self.command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(self.expect_code),
            "{:?}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}",
            self.command
        );
        for text in &self.stderr_has {
            assert!(
                stderr.contains(text.as_str()),
                "stderr lacks {text:?}:\n{stderr}"
            );
        }
        output
    }

    #[track_caller]
    pub fn run_json(self) -> Value {
        let output = self.run();
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Runs and returns the raw output, whatever the exit code.
    pub fn output(mut self) -> Output {
        self.command.output().unwrap()
    }

    /// Starts it with stdout and stderr captured; the caller waits.
    pub fn spawn_output(mut self) -> std::process::Child {
        self.command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs and returns the raw status, for tests that expect a signal.
    pub fn status(mut self) -> std::process::ExitStatus {
        self.command.output().unwrap().status
    }
}

fn hoist_fault() -> &'static str {
    "HOIST_FAULT_KILL_AT"
}

/// A loopback HTTP server answering every request with `status`; stops on drop.
pub struct HealthServer {
    pub url: String,
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HealthServer {
    pub fn start(status: u16) -> HealthServer {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        HealthServer {
            url: format!("http://{addr}/healthz"),
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
