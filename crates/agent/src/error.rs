use std::path::PathBuf;

/// Why the agent could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The config has no `[process]` section, so there is nothing to run.
    #[error("`hoist.toml` has no `[process] command`; the agent needs it to run the app")]
    NoProcessConfig,
    /// The candidate never became healthy; it was stopped and nothing changed.
    #[error("release `{release}` did not become ready: {problem}; it was stopped and `{}` still serves\n{log_tail}", live.as_deref().unwrap_or("nothing"))]
    NotReady {
        /// The candidate.
        release: String,
        /// What went wrong.
        problem: String,
        /// The live release, unchanged.
        live: Option<String>,
        /// The end of its log.
        log_tail: String,
    },
    /// A release's own `hoist.toml` (or its `[process]`) cannot be used;
    /// nothing of it started.
    #[error("release `{release}` cannot start: {problem}; fix its `hoist.toml` and build again")]
    ReleaseConfig {
        /// The release.
        release: String,
        /// What is wrong, naming the file and the key.
        problem: String,
    },
    /// `current` could not be written, so the route did not move.
    #[error("cannot point `current` at `{release}`: {cause}; nothing moved: `{}` still serves and `current` still names it, and `{release}` {kept}. Fix the site root (disk space, permissions, what is in the way of `current`), then deploy again", live.as_deref().unwrap_or("nothing"))]
    CurrentNotWritten {
        /// The release that was to go live.
        release: String,
        /// The release still live.
        live: Option<String>,
        /// What became of the candidate: stopped, or warm or held again.
        kept: &'static str,
        /// Why `current` could not be written (boxed: it is large, and rare).
        cause: Box<hoist_site::SiteError>,
    },
    /// The agent is shutting down and takes no new work.
    #[error("the agent is shutting down")]
    ShuttingDown,
    /// The release is not on disk.
    #[error("release `{0}` is not on disk")]
    UnknownRelease(String),
    /// An I/O error on a named path.
    #[error("{action} `{}`: {cause}", path.display())]
    Io {
        /// What the agent was doing.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        cause: std::io::Error,
    },
    /// The site layout refused.
    #[error(transparent)]
    Site(#[from] hoist_site::SiteError),
    /// Talking to the agent failed.
    #[error("cannot reach the agent at `{}`: {message}", socket.display())]
    Unreachable {
        /// The admin socket.
        socket: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// `hoist drain` of the only backend still getting requests. The
    /// message keeps its command: it reaches the CLI as text (`Remote`).
    #[error("`{backend}` is the last healthy backend: drained, it would leave none to answer and every request would get 503; bring another backend up (or `hoist undrain` one) first, or drain it anyway with `hoist drain --force {backend}`")]
    LastHealthyBackend {
        /// The backend's URL.
        backend: String,
    },
    /// The app did not take a data reload: the data roll failed, and
    /// `data/current` went back; the code did not move.
    #[error("the app did not take the data reload (`{how}`) of `{version}`: {problem}; `data/current` is back on `{}` and the live release stays{after}. Fix the app (or set `[data] reload = \"restart\"`), then `hoist data roll` again", restored.as_deref().unwrap_or("nothing"))]
    DataReloadFailed {
        /// The data version that was rolled.
        version: String,
        /// The data version live again.
        restored: Option<String>,
        /// `[data] reload`.
        how: String,
        /// What went wrong.
        problem: String,
        /// What was done about the app, `; ...` (or empty).
        after: String,
    },
    /// The agent answered with an error.
    #[error("{0}")]
    Remote(String),
}

impl hoist_error::Described for AgentError {
    fn kind(&self) -> &'static str {
        match self {
            AgentError::NoProcessConfig | AgentError::ReleaseConfig { .. } => "config-invalid",
            AgentError::NotReady { .. } => "not-ready",
            AgentError::CurrentNotWritten { .. } | AgentError::Io { .. } => "io",
            AgentError::ShuttingDown => "agent-stopping",
            AgentError::UnknownRelease(_) => "unknown-release",
            AgentError::Site(inner) => inner.kind(),
            AgentError::Unreachable { .. } => "agent-unreachable",
            AgentError::LastHealthyBackend { .. } => "last-backend",
            AgentError::DataReloadFailed { .. } => "data-reload-failed",
            AgentError::Remote(_) => "agent-refused",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            AgentError::Site(inner) => inner.hint(),
            AgentError::Unreachable { .. } => hoist_error::command("agent"),
            AgentError::UnknownRelease(_) => hoist_error::command("releases"),
            AgentError::DataReloadFailed { version, .. } => {
                hoist_error::command(&format!("data roll {version}"))
            }
            AgentError::LastHealthyBackend { backend } => {
                hoist_error::command(&format!("drain --force {backend}"))
            }
            _ => None,
        }
    }
}
