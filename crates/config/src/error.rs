use std::path::PathBuf;

/// Why a `hoist.toml` could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read config `{}`: {cause}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The TOML is malformed or names a key hoist does not know.
    #[error("invalid config `{}` at line {line}: {message}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// What the parser said, e.g. "unknown field `keep_release`".
        message: String,
    },
    /// The TOML parsed but a value makes no sense.
    #[error("invalid config `{}`: `{key}` {problem}", path.display())]
    Value {
        /// The config file.
        path: PathBuf,
        /// Dotted key, e.g. `deploy.keep_releases`.
        key: String,
        /// What is wrong with it, phrased to follow the key.
        problem: String,
    },
}

impl hoist_error::Described for ConfigError {
    fn kind(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "config-unreadable",
            ConfigError::Syntax { .. } | ConfigError::Value { .. } => "config-invalid",
        }
    }

    /// The file (and line, or key) to edit. Never a command that writes
    /// the file anew: for a site's `site.toml` that would throw away the
    /// settings around the typo (`[[notify]]` entries, the database), so
    /// the hint names it by its full path, to be edited in place.
    fn hint(&self) -> Option<String> {
        let (ConfigError::Read { path, .. }
        | ConfigError::Syntax { path, .. }
        | ConfigError::Value { path, .. }) = self;
        let site = path.file_name()? == crate::SITE_FILE;
        let shown = if site {
            // As a person finds it from anywhere: no `..`.
            std::fs::canonicalize(path)
                .or_else(|_| std::path::absolute(path))
                .unwrap_or_else(|_| path.clone())
        } else {
            path.clone()
        };
        let shown = shown.display();
        match self {
            ConfigError::Read { .. } if site => Some(format!(
                "make `{shown}` readable by this user (it holds the site's host settings)"
            )),
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { line, .. } => Some(format!("edit `{shown}`, line {line}")),
            ConfigError::Value { key, .. } => Some(format!("edit `{key}` in `{shown}`")),
        }
    }
}
