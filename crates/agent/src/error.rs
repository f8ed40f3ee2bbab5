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
