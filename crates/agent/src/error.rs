use std::path::PathBuf;

/// Why the agent could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The config has no `[process]` section, so there is nothing to run.
    #[error("`hoist.toml` has no `[process]` section; the agent needs `[process] command` to run the app")]
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
    /// The release is not on disk.
    #[error("release `{0}` is not on disk")]
    UnknownRelease(String),
    /// An I/O error on a named path.
    #[error("{action} `{}`: {source}", path.display())]
    Io {
        /// What the agent was doing.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
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
    /// `hoist drain` of the only backend still getting requests.
    #[error("`{backend}` is the last healthy backend: drained, it would leave none to answer and every request would get 503; bring another backend up (or `hoist undrain` one) first, or drain it anyway with `hoist drain --force {backend}`")]
    LastHealthyBackend {
        /// The backend's URL.
        backend: String,
    },
    /// The agent answered with an error.
    #[error("{0}")]
    Remote(String),
}
