//! What stops a walk from running at all (a dead link is a finding, not an error).

/// Why a walk could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// The start URL is not something the walk can fetch.
    #[error("cannot walk `{url}`: {reason}")]
    BadStart {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The walk's own runtime would not start.
    #[error("cannot start the link walker: {source}")]
    Runtime {
        /// Why.
        source: std::io::Error,
    },
}

impl hoist_error::Described for WalkError {
    fn kind(&self) -> &'static str {
        match self {
            WalkError::BadStart { .. } => "walk-bad-start",
            WalkError::Runtime { .. } => "walk-failed",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            WalkError::BadStart { .. } => Some(
                "give an `http://` URL (`hoist walk http://127.0.0.1:8080/`), or set `[deploy.smoke] crawl` to a path such as \"/\"".to_owned(),
            ),
            WalkError::Runtime { .. } => None,
        }
    }
}
