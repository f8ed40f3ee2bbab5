//! The typed shape of `hoist.toml`.

use crate::ConfigError;
use bytesize::ByteSize;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// A whole, validated `hoist.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// What is being deployed.
    pub app: App,
    /// How a source tree becomes an artifact.
    #[serde(default)]
    pub build: Build,
    /// How an artifact becomes the live release.
    #[serde(default)]
    pub deploy: Deploy,
    /// How the agent runs the app (agent mode only).
    pub process: Option<Process>,
    /// The agent's public listener.
    #[serde(default)]
    pub proxy: Proxy,
    /// Maintenance flag file and scheduled windows.
    #[serde(default)]
    pub maintenance: MaintenanceConfig,
    /// The app's database and its migrations.
    pub database: Option<crate::Database>,
    /// Where the agent serves `/metrics` (host setting; off by default).
    #[serde(default)]
    pub metrics: crate::Metrics,
    /// Data versions: how the app is told about a roll.
    #[serde(default)]
    pub data: crate::Data,
    /// `[parity]`: the runtime fingerprint each deploy records and compares.
    pub parity: Option<crate::Parity>,
    /// `[stages.NAME]`: the hosts `hoist deploy --stage NAME` drives.
    #[serde(default)]
    pub stages: std::collections::BTreeMap<String, crate::Stage>,
    /// `[hooks]`: the app's commands around a switch, rollback and data roll.
    #[serde(default)]
    pub hooks: crate::Hooks,
    /// `[[notify]]`: messages after deploys and rollbacks (a host setting).
    #[serde(default)]
    pub notify: Vec<crate::Notify>,
    /// The file and text it was parsed from, so its host sections can be
    /// stored as written (`$NAME` unexpanded) in `site.toml`.
    #[serde(skip)]
    pub(crate) origin: Option<crate::site::Origin>,
}

/// `[maintenance]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MaintenanceConfig {
    /// The flag file, relative to the site root (default `maintenance`).
    pub flag_file: Option<PathBuf>,
    /// `[[maintenance.window]]`: recurring windows that switch maintenance on and off.
    #[serde(default)]
    pub window: Vec<Window>,
}

/// One `[[maintenance.window]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Window {
    /// Days it starts on: `mon` .. `sun`; empty means every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// Local start time, `HH:MM`.
    pub from: String,
    /// Local end time, `HH:MM`; earlier than `from` means the next day.
    pub to: String,
    /// IANA time zone of `from`/`to`, e.g. `Europe/Berlin` (default UTC).
    #[serde(default = "Window::default_tz")]
    pub tz: String,
    /// What the page says.
    #[serde(default = "Window::default_message")]
    pub message: String,
}

impl Window {
    fn default_tz() -> String {
        "UTC".to_owned()
    }
    fn default_message() -> String {
        "We are doing our scheduled maintenance.".to_owned()
    }
}

/// `[process]`: how the agent launches, checks and stops each release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Process {
    /// Shell command run inside `releases/<id>`; `$PORT` is the port to listen on.
    /// Empty when left out: a `[process]` with only host keys (`env_file`)
    /// is valid in external mode; the agent requires it.
    #[serde(default)]
    pub command: String,
    /// Path that must answer 2xx before a release gets traffic.
    #[serde(default = "Process::default_health_path")]
    pub health_path: String,
    /// How many 2xx answers in a row make a release ready.
    #[serde(default = "Process::default_healthy_after")]
    pub healthy_after: u32,
    /// How long a candidate may take to become ready.
    #[serde(
        default = "secs::<30>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub health_timeout: Duration,
    /// Signal that asks the app to stop (`TERM`, `QUIT`, `INT`, ...).
    #[serde(default = "Process::default_stop_signal")]
    pub stop_signal: String,
    /// How long after `stop_signal` before KILL.
    #[serde(
        default = "secs::<30>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub stop_timeout: Duration,
    /// How long an old release may keep in-flight requests after a switch.
    #[serde(
        default = "secs::<30>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub drain_timeout: Duration,
    /// How long the old release stays warm for an instant rollback.
    #[serde(
        default = "secs::<300>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub rollback_window: Duration,
    /// Environment file under the site root (secrets), `KEY=value` lines.
    pub env_file: Option<String>,
    /// How long after a switch the agent watches the new release.
    #[serde(
        default = "secs::<30>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub watch: Duration,
    /// Share of 5xx answers during `watch` that makes the agent roll back on its own.
    #[serde(default = "Process::default_max_error_rate")]
    pub max_error_rate: f64,
    /// At most this many old releases are kept warm; a switch past it
    /// stops the oldest at once instead of at the end of its window.
    #[serde(
        default = "Process::default_max_warm",
        deserialize_with = "Process::deserialize_max_warm"
    )]
    pub max_warm: usize,
}

impl Default for Process {
    /// Every key at the default a `[process]` that leaves it out gets.
    fn default() -> Process {
        toml::Table::new()
            .try_into()
            .expect("every `[process]` key has a default")
    }
}

/// `[proxy]`: the agent's public side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Proxy {
    /// Public listen address.
    #[serde(
        default = "Proxy::default_listen",
        deserialize_with = "crate::vars::deserialize"
    )]
    pub listen: String,
    /// Response header naming the release that answered; `""` turns it off.
    #[serde(default = "Proxy::default_release_header")]
    pub release_header: String,
    /// Connecting to a backend may take this long before a 502.
    #[serde(
        default = "secs::<5>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub connect_timeout: Duration,
    /// A backend may take no request bytes and send nothing for this long
    /// before its response head arrives; then 504.
    #[serde(
        default = "secs::<60>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub response_timeout: Duration,
    /// A client or backend connection on which no byte moves for this long
    /// is given up (idle keep-alive closed, stalled request 408, stalled
    /// response body cut); websockets and other upgrades are exempt.
    #[serde(
        default = "secs::<60>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub idle_timeout: Duration,
    /// A request head must arrive whole within this, counted from its first
    /// byte (from the accept for a connection's first request), however
    /// steadily its bytes trickle in; then 408 (nginx's
    /// `client_header_timeout`). Never longer than `idle_timeout`.
    #[serde(
        default = "secs::<60>",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub header_timeout: Duration,
    /// A request body must arrive at least this fast on average, after a
    /// grace of `header_timeout`; then 408 (Apache's `MinRate`). `"0"` turns it off.
    #[serde(default = "Proxy::default_min_body_rate")]
    pub min_body_rate: ByteSize,
    /// Client connections open at once; at the cap the oldest idle one is
    /// closed, or the new one gets 503. `None`: derived from the open-file limit.
    pub max_connections: Option<usize>,
    /// Client connections open at once from one address; 0 means no limit.
    #[serde(default)]
    pub max_connections_per_client: usize,
    /// Request bodies over this get 413.
    #[serde(default = "Proxy::default_max_body")]
    pub max_body_size: ByteSize,
    /// PEM certificate chain; with `tls_key` the listener speaks TLS (HTTP/1.1 and HTTP/2 by ALPN).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// A TCP address for the admin API, besides the Unix socket; needs `admin_token_file`.
    #[serde(default, deserialize_with = "crate::vars::deserialize_opt")]
    pub admin_listen: Option<String>,
    /// File holding the bearer token the TCP admin API requires.
    pub admin_token_file: Option<PathBuf>,
    /// `[[proxy.backend]]`: static backends the agent balances instead of running the app.
    #[serde(default)]
    pub backend: Vec<StaticBackend>,
    /// At most this many requests are held during `hoist pause`; more get 503.
    #[serde(default = "Proxy::default_max_held")]
    pub max_held: usize,
    /// The app's own pages for the proxy's 502, 503 and 504, relative to the live release.
    #[serde(default)]
    pub error_pages: std::collections::BTreeMap<String, PathBuf>,
}

/// One `[[proxy.backend]]`: a host the agent does not run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StaticBackend {
    /// `http://host:port`.
    #[serde(deserialize_with = "crate::vars::deserialize")]
    pub url: String,
    /// Share of requests relative to the others (its capacity).
    #[serde(default = "StaticBackend::default_weight")]
    pub weight: u32,
    /// Path its active health check GETs.
    #[serde(default = "Process::default_health_path")]
    pub health_path: String,
}

impl StaticBackend {
    fn default_weight() -> u32 {
        1
    }
}

impl Process {
    /// Settings for an agent that only balances `[[proxy.backend]]` and runs no app.
    pub fn without_app() -> Process {
        Process {
            command: String::new(),
            health_path: Process::default_health_path(),
            healthy_after: Process::default_healthy_after(),
            health_timeout: secs::<30>(),
            stop_signal: Process::default_stop_signal(),
            stop_timeout: secs::<30>(),
            drain_timeout: secs::<30>(),
            rollback_window: secs::<300>(),
            env_file: None,
            watch: secs::<30>(),
            max_error_rate: Process::default_max_error_rate(),
            max_warm: Process::default_max_warm(),
        }
    }
}

fn secs<const N: u64>() -> Duration {
    Duration::from_secs(N)
}

impl Process {
    fn default_health_path() -> String {
        "/healthz".to_owned()
    }
    fn default_healthy_after() -> u32 {
        2
    }
    fn default_stop_signal() -> String {
        "TERM".to_owned()
    }
    fn default_max_error_rate() -> f64 {
        0.05
    }
    fn default_max_warm() -> usize {
        2
    }
    /// Each warm release is a whole running app: more than this is a leak, not a choice.
    pub const MAX_WARM_LIMIT: usize = 16;
    /// Checked while parsing, so a negative number gets the same message, with its line.
    pub(crate) fn deserialize_max_warm<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<usize, D::Error> {
        let value = i64::deserialize(deserializer)?;
        usize::try_from(value)
            .ok()
            .filter(|count| *count <= Process::MAX_WARM_LIMIT)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{value}` is not between 0 and {} (each warm release is a running app)",
                    Process::MAX_WARM_LIMIT
                ))
            })
    }
}

impl Proxy {
    fn default_listen() -> String {
        "127.0.0.1:8080".to_owned()
    }
    fn default_release_header() -> String {
        "X-Hoist-Release".to_owned()
    }
    fn default_max_held() -> usize {
        10_000
    }
    fn default_max_body() -> ByteSize {
        ByteSize::mib(100)
    }
    fn default_min_body_rate() -> ByteSize {
        ByteSize::kib(1)
    }
}

impl Default for Proxy {
    fn default() -> Self {
        Proxy {
            listen: Proxy::default_listen(),
            release_header: Proxy::default_release_header(),
            connect_timeout: secs::<5>(),
            response_timeout: secs::<60>(),
            idle_timeout: secs::<60>(),
            header_timeout: secs::<60>(),
            min_body_rate: Proxy::default_min_body_rate(),
            max_connections: None,
            max_connections_per_client: 0,
            max_body_size: Proxy::default_max_body(),
            tls_cert: None,
            tls_key: None,
            admin_listen: None,
            admin_token_file: None,
            error_pages: std::collections::BTreeMap::new(),
            max_held: Proxy::default_max_held(),
            backend: Vec::new(),
        }
    }
}

/// `[app]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct App {
    /// Short name; appears in the manifest and the ledger.
    pub name: String,
    /// Release version; when absent hoist asks `git describe`, else uses "0".
    pub version: Option<String>,
}

/// `[build]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Build {
    /// Shell command run in the source dir before packing (e.g. `make assets`).
    pub command: Option<String>,
    /// Globs of files to pack, relative to the source dir.
    #[serde(default = "Build::default_include")]
    pub include: Vec<String>,
    /// Globs left out even when included; `.git` and the output dir always are.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// `[deploy]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Deploy {
    /// The site root; `--root` and `HOIST_ROOT` override it.
    pub root: Option<PathBuf>,
    /// How many releases `prune` keeps besides the protected ones.
    #[serde(default = "Deploy::default_keep")]
    pub keep_releases: usize,
    /// Paths linked from `shared/` into every release; a trailing `/` means a directory.
    #[serde(default)]
    pub shared: Vec<String>,
    /// Commands run inside the unpacked release before the switch; any failure aborts.
    #[serde(default)]
    pub checks: Vec<String>,
    /// The test suite gate, run after `checks`.
    pub test: Option<TestGate>,
    /// External-mode restart command, run in the new release after the switch.
    pub restart: Option<String>,
    /// URL that must answer 2xx after `restart`, else hoist switches back.
    #[serde(default, deserialize_with = "crate::vars::deserialize_opt")]
    pub health: Option<String>,
    /// How long `health` may take to turn 2xx.
    #[serde(
        default = "Deploy::default_health_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub health_timeout: Duration,
    /// The `health` answer must carry the release header naming the new
    /// release (the app echoes `HOIST_RELEASE`): proof that the restart
    /// replaced the running code, where `/proc` cannot show it.
    #[serde(default)]
    pub health_release: bool,
    /// The header `health_release` reads: `[proxy] release_header`, filled
    /// in by whoever takes `[deploy]` out of its config; empty means
    /// `X-Hoist-Release`.
    #[serde(skip)]
    pub release_header: String,
    /// Refuse artifacts that unpack to more than this (guards against tar bombs).
    #[serde(default = "Deploy::default_max_release_size")]
    pub max_release_size: ByteSize,
    /// `[deploy.smoke]`: the link walk run against the candidate before the switch.
    #[serde(default)]
    pub smoke: crate::Smoke,
}

/// `[deploy] test = { command = "...", min_tests = N }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TestGate {
    /// The test command, run inside the unpacked release.
    pub command: String,
    /// The lowest test count the output may report.
    pub min_tests: Option<u64>,
}

impl Build {
    fn default_include() -> Vec<String> {
        vec!["**".to_owned()]
    }
}

impl Default for Build {
    fn default() -> Self {
        Build {
            command: None,
            include: Build::default_include(),
            exclude: Vec::new(),
        }
    }
}

impl Deploy {
    fn default_keep() -> usize {
        5
    }
    fn default_health_timeout() -> Duration {
        Duration::from_secs(30)
    }
    fn default_max_release_size() -> ByteSize {
        ByteSize::gib(10)
    }
}

impl Default for Deploy {
    fn default() -> Self {
        Deploy {
            root: None,
            keep_releases: Deploy::default_keep(),
            shared: Vec::new(),
            checks: Vec::new(),
            test: None,
            restart: None,
            health: None,
            health_timeout: Deploy::default_health_timeout(),
            health_release: false,
            release_header: String::new(),
            max_release_size: Deploy::default_max_release_size(),
            smoke: crate::Smoke::default(),
        }
    }
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            cause: source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text`; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|error| syntax_error(text, path, &error))?;
        config.validate(path)?;
        Ok(Config {
            origin: Some(crate::site::Origin::new(path, text)),
            ..config
        })
    }

    /// A config with every default, for checking settings that are not a
    /// whole `hoist.toml` (`site.toml`).
    pub(crate) fn blank() -> Config {
        Config {
            app: App {
                name: "site".to_owned(),
                version: None,
            },
            build: Build::default(),
            deploy: Deploy::default(),
            process: None,
            proxy: Proxy::default(),
            maintenance: MaintenanceConfig::default(),
            database: None,
            metrics: crate::Metrics::default(),
            data: crate::Data::default(),
            parity: None,
            stages: Default::default(),
            hooks: crate::Hooks::default(),
            notify: Vec::new(),
            origin: None,
        }
    }

    /// The file this config was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.origin.as_ref().map(|origin| origin.path.as_path())
    }

    pub(crate) fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, problem: String| ConfigError::Value {
            path: path.to_owned(),
            key: key.to_owned(),
            problem,
        };
        if !is_name(&self.app.name) {
            return Err(invalid(
                "app.name",
                "must be letters, digits, `.`, `_` or `-`".into(),
            ));
        }
        if let Some(version) = &self.app.version {
            if !is_name(version) && !version.contains('+') {
                return Err(invalid(
                    "app.version",
                    format!("`{version}` must be letters, digits, `.`, `_`, `+` or `-`"),
                ));
            }
        }
        crate::limits::check(self, path)?;
        if let Some(crawl) = &self.deploy.smoke.crawl {
            if let Some(problem) = crate::smoke::path_problem(crawl) {
                return Err(invalid(
                    "deploy.smoke.crawl",
                    format!(
                        "`{crawl}` {problem}; give a path on the site such as \"/\" or \"/docs/\""
                    ),
                ));
            }
        }
        for (index, notify) in self.notify.iter().enumerate() {
            if let Some((key, problem)) = notify.problem() {
                return Err(invalid(&format!("notify[{index}].{key}"), problem));
            }
        }
        for (name, stage) in &self.stages {
            if !is_name(name) {
                return Err(invalid(
                    "stages",
                    format!("stage `{name}` must be letters, digits, `.`, `_` or `-`"),
                ));
            }
            if let Some((key, problem)) = stage.problems().into_iter().next() {
                return Err(invalid(&format!("stages.{name}.{key}"), problem));
            }
        }
        for entry in &self.deploy.shared {
            let relative = Path::new(entry.trim_end_matches('/'));
            let inside = relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            if entry.trim_end_matches('/').is_empty() || !inside {
                return Err(invalid(
                    "deploy.shared",
                    format!("entry `{entry}` must be a relative path inside the release"),
                ));
            }
        }
        if let Some(process) = &self.process {
            const SIGNALS: [&str; 6] = ["TERM", "QUIT", "INT", "HUP", "USR1", "USR2"];
            if !SIGNALS.contains(&process.stop_signal.trim_start_matches("SIG")) {
                return Err(invalid(
                    "process.stop_signal",
                    format!(
                        "`{}` is not one of {}",
                        process.stop_signal,
                        SIGNALS.join(", ")
                    ),
                ));
            }
            if !(0.0..=1.0).contains(&process.max_error_rate) {
                return Err(invalid(
                    "process.max_error_rate",
                    "must be between 0 and 1, e.g. 0.05".into(),
                ));
            }
            if !process.health_path.starts_with('/') {
                return Err(invalid("process.health_path", "must start with `/`".into()));
            }
        }
        if !crate::vars::names_variable(&self.proxy.listen)
            && self.proxy.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(invalid(
                "proxy.listen",
                format!(
                    "`{}` is not an address like 127.0.0.1:8080",
                    self.proxy.listen
                ),
            ));
        }
        // A zero idle timeout would end every connection the moment it waits.
        if self.proxy.idle_timeout < Duration::from_secs(1) {
            return Err(invalid(
                "proxy.idle_timeout",
                "must be at least 1s, e.g. \"60s\"".into(),
            ));
        }
        if self.proxy.header_timeout < Duration::from_secs(1) {
            return Err(invalid(
                "proxy.header_timeout",
                "must be at least 1s, e.g. \"60s\"".into(),
            ));
        }
        if self.proxy.max_connections == Some(0) {
            return Err(invalid(
                "proxy.max_connections",
                "must be at least 1; leave it out to derive it from the open-file limit".into(),
            ));
        }
        if self.proxy.tls_cert.is_some() != self.proxy.tls_key.is_some() {
            return Err(invalid(
                "proxy.tls_cert",
                "and `proxy.tls_key` must be set together".into(),
            ));
        }
        for (index, backend) in self.proxy.backend.iter().enumerate() {
            let authority = backend
                .url
                .strip_prefix("http://")
                .map(|rest| rest.trim_end_matches('/'));
            let named = crate::vars::names_variable(&backend.url);
            if !named
                && authority.is_none_or(|authority| authority.is_empty() || authority.contains('/'))
            {
                return Err(invalid(
                    &format!("proxy.backend[{index}].url"),
                    format!("`{}` must look like http://10.0.0.5:8000", backend.url),
                ));
            }
        }
        if let Some(code) = self
            .proxy
            .error_pages
            .keys()
            .find(|code| !matches!(code.as_str(), "502" | "503" | "504"))
        {
            return Err(invalid(
                "proxy.error_pages",
                format!("has `{code}`; only 502, 503 and 504 come from the proxy itself"),
            ));
        }
        if self.proxy.admin_listen.is_some() && self.proxy.admin_token_file.is_none() {
            return Err(invalid(
                "proxy.admin_listen",
                "needs `proxy.admin_token_file`: the TCP admin API always requires a token".into(),
            ));
        }
        for (index, window) in self.maintenance.window.iter().enumerate() {
            let key = format!("maintenance.window[{index}]");
            if let Err(problem) = crate::schedule::check(window) {
                return Err(invalid(&key, problem));
            }
        }
        if let Err((key, problem)) = self.data.check() {
            return Err(invalid(key, problem));
        }
        if let Err((key, problem)) = self.hooks.check() {
            return Err(invalid(key, problem));
        }
        if let Err((key, problem)) = self.metrics.check(&self.proxy) {
            return Err(invalid(key, problem));
        }
        if self
            .database
            .as_ref()
            .is_some_and(|db| db.keep_backups == 0)
        {
            return Err(invalid(
                "database.keep_backups",
                "must be at least 1: the backup taken before a change is the way back".into(),
            ));
        }
        if let Some(database) = &self.database {
            let known = ["sqlite://", "postgres://", "postgresql://"];
            if !crate::vars::names_variable(&database.url)
                && !known.iter().any(|scheme| database.url.starts_with(scheme))
            {
                return Err(invalid(
                    "database.url",
                    format!(
                        "`{}` must start with sqlite:// or postgres://",
                        database.url
                    ),
                ));
            }
        }
        if let Some(url) = &self.deploy.health {
            if !crate::vars::names_variable(url) && !url.starts_with("http://") {
                return Err(invalid(
                    "deploy.health",
                    format!("`{url}` must be an http:// URL"),
                ));
            }
        }
        Ok(())
    }
}

/// A TOML error in `text`, with its line and the key it is about.
pub(crate) fn syntax_error(text: &str, path: &Path, error: &toml::de::Error) -> ConfigError {
    let offset = error.span().map_or(0, |span| span.start);
    let message = error.message().trim();
    ConfigError::Syntax {
        path: path.to_owned(),
        line: line_of(text, offset),
        // A bad value is named by its key, as `Value` errors are.
        message: match (
            key_of_value_at(text, offset),
            crate::plain::type_mismatch(message),
        ) {
            // toml points at the second one; say which key it is.
            _ if message == "duplicate key" => match key_at(text, offset) {
                Some(key) => format!("duplicate key `{key}`: it is set twice; keep one"),
                None => message.to_owned(),
            },
            (Some(key), Some(plain)) => format!("`{key}` {plain}"),
            (Some(key), None) => format!("`{key}`: {message}"),
            (None, plain) => plain.unwrap_or_else(|| message.to_owned()),
        },
    }
}

/// Names, versions and release ids all end up in file names and URLs.
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('.')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// The dotted key whose value sits at `offset` (`process.rollback_window`),
/// when `offset` is right of a `key = ` on its line.
fn key_of_value_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
    let line = &text[start..offset];
    let (key, rest) = line.split_once('=')?;
    let mut key = key.trim().trim_matches('"').to_owned();
    // Inside an inline table (`test = { min_tests = "ten" }`) the value
    // belongs to the inner key: `deploy.test.min_tests`.
    if rest.contains('{') {
        let inner = rest.rsplit_once('=').map(|(before, _)| before)?;
        let inner = inner.rsplit(['{', ',']).next()?.trim().trim_matches('"');
        if !inner.is_empty() {
            key = format!("{key}.{inner}");
        }
    }
    Some(in_section(text, start, &key))
}

/// The key (or table header) that starts at `offset`, with its section.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |at| at + 1);
    let rest = &text[offset..];
    let end = rest.find(['=', '\n', ']', '}', ','])?;
    let key = rest[..end].trim().trim_matches('"');
    if key.is_empty() {
        return None;
    }
    if text[start..offset].trim_start().starts_with('[') {
        return Some(format!("[{key}]"));
    }
    Some(in_section(text, start, key))
}

/// `key` under the `[section]` that the line at `start` is in.
fn in_section(text: &str, start: usize, key: &str) -> String {
    let section = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['))
        .map(|header| header.trim_matches(|c| c == '[' || c == ']').trim());
    match section {
        Some(section) => format!("{section}.{key}"),
        None => key.to_owned(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("hoist.toml"))
    }

    #[test]
    fn unknown_key_names_the_key_and_its_line() {
        let error = parse("[app]\nname = \"shop\"\n\n[deploy]\nkeep_release = 3\n").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("line 5"), "{message}");
        assert!(message.contains("`keep_release`"), "{message}");
    }

    #[test]
    fn messages_name_the_key_and_what_is_expected() {
        for (text, expected) in [
            (
                "[app]\nname = \"x\"\n[deploy]\nmax_release_size = \"lots\"\n",
                "`deploy.max_release_size` must be a size such as `10 GiB` or `500MB`",
            ),
            (
                "[app]\nname = \"x\"\n[deploy]\ntest = { command=\"prove\", min_tests=\"ten\" }\n",
                "`deploy.test.min_tests` must be a whole number",
            ),
            (
                "[app]\nname = \"x\"\nname = \"y\"\n",
                "duplicate key `app.name`",
            ),
            (
                "[app]\nname = \"x\"\n[app]\nversion = \"y\"\n",
                "duplicate key `[app]`",
            ),
        ] {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn unknown_section_is_an_error() {
        let message = parse("[app]\nname = \"x\"\n[deplyo]\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("`deplyo`") && message.contains("line 3"),
            "{message}"
        );
    }

    #[test]
    fn full_example_from_the_docs_parses() {
        let config = parse(
            r#"
[app]
name = "shop"
version = "1.4.2"
[build]
command = "make assets"
include = ["**"]
exclude = ["*.log", "tmp/**"]
[deploy]
root = "/srv/shop"
keep_releases = 5
shared = ["log/", "uploads/", "config/secrets.env"]
checks = ["perl -c lib/Shop.pm"]
test = { command = "prove -r t", min_tests = 9400 }
restart = "kill -USR2 $(cat shared/hypnotoad.pid)"
health = "http://127.0.0.1:8080/healthz"
health_timeout = "10s"
max_release_size = "2 GiB"
"#,
        )
        .unwrap();
        assert_eq!(config.deploy.test.unwrap().min_tests, Some(9400));
        assert_eq!(config.deploy.health_timeout, Duration::from_secs(10));
        assert_eq!(config.deploy.max_release_size, ByteSize::gib(2));
    }

    #[test]
    fn shared_paths_must_stay_inside_the_release() {
        let message = parse("[app]\nname = \"x\"\n[deploy]\nshared = [\"../etc/\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("`deploy.shared`") && message.contains("`../etc/`"),
            "{message}"
        );
    }

    #[test]
    fn proxy_timeouts_default_and_parse() {
        let config = parse("[app]\nname = \"x\"\n").unwrap();
        assert_eq!(config.proxy.idle_timeout, Duration::from_secs(60));
        let config = parse(
            "[app]\nname = \"x\"\n[proxy]\nidle_timeout = \"75s\"\nresponse_timeout = \"2m\"\n",
        )
        .unwrap();
        assert_eq!(config.proxy.idle_timeout, Duration::from_secs(75));
        assert_eq!(config.proxy.response_timeout, Duration::from_secs(120));
        let message = parse("[app]\nname = \"x\"\n[proxy]\nidle_timeout = \"0s\"\n")
            .unwrap_err()
            .to_string();
        assert!(message.contains("`proxy.idle_timeout`"), "{message}");
    }

    #[test]
    fn connection_limits_parse_with_defaults() {
        let config = parse("[app]\nname = \"x\"\n").unwrap();
        assert_eq!(config.proxy.header_timeout, Duration::from_secs(60));
        assert_eq!(config.proxy.min_body_rate, ByteSize::kib(1));
        assert_eq!(config.proxy.max_connections, None);
        assert_eq!(config.proxy.max_connections_per_client, 0);
        let config = parse(
            "[app]\nname = \"x\"\n[proxy]\nheader_timeout = \"10s\"\nmin_body_rate = \"0\"\nmax_connections = 500\nmax_connections_per_client = 20\n",
        )
        .unwrap();
        assert_eq!(config.proxy.header_timeout, Duration::from_secs(10));
        assert_eq!(config.proxy.min_body_rate, ByteSize::b(0));
        assert_eq!(config.proxy.max_connections, Some(500));
        assert_eq!(config.proxy.max_connections_per_client, 20);
        for (text, key) in [
            ("header_timeout = \"0s\"", "`proxy.header_timeout`"),
            ("max_connections = 0", "`proxy.max_connections`"),
        ] {
            let message = parse(&format!("[app]\nname = \"x\"\n[proxy]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(message.contains(key), "{message}");
        }
    }

    #[test]
    fn bad_duration_is_named() {
        let message = parse("[app]\nname = \"x\"\n[deploy]\nhealth_timeout = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("line 4") && message.contains("`soon`"),
            "{message}"
        );
    }

    #[test]
    fn agent_sections_parse_with_defaults() {
        let config = parse("[app]\nname = \"x\"\n[process]\ncommand = \"./app\"\nrollback_window = \"1m\"\n[proxy]\nlisten = \"127.0.0.1:9000\"\n").unwrap();
        let process = config.process.unwrap();
        assert_eq!(
            (process.health_path.as_str(), process.rollback_window),
            ("/healthz", Duration::from_secs(60))
        );
        assert_eq!(config.proxy.release_header, "X-Hoist-Release");
        let message =
            parse("[app]\nname = \"x\"\n[process]\ncommand = \"a\"\nstop_signal = \"KILLME\"\n")
                .unwrap_err()
                .to_string();
        assert!(message.contains("`process.stop_signal`"), "{message}");
    }

    #[test]
    fn max_warm_defaults_to_two_and_is_bounded() {
        let process = |extra: &str| {
            parse(&format!(
                "[app]\nname = \"x\"\n[process]\ncommand = \"a\"\n{extra}"
            ))
        };
        assert_eq!(process("").unwrap().process.unwrap().max_warm, 2);
        for ok in [0, 16] {
            let config = process(&format!("max_warm = {ok}\n")).unwrap();
            assert_eq!(config.process.unwrap().max_warm, ok);
        }
        let message = process("max_warm = 17\n").unwrap_err().to_string();
        assert!(
            message.contains("`process.max_warm`: `17` is not between 0 and 16")
                && message.contains("between 0 and 16")
                && message.contains("line 5"),
            "{message}"
        );
        let message = process("max_warm = -1\n").unwrap_err().to_string();
        assert!(
            message.contains("`process.max_warm`: `-1` is not between")
                && message.contains("line 5"),
            "{message}"
        );
    }

    #[test]
    fn template_is_valid() {
        let config = parse(crate::TEMPLATE).unwrap();
        assert_eq!(config.app.name, "myapp");
    }
}
