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

    /// The file (and line, or key) to edit; a site's own `site.toml` may
    /// also be written anew.
    fn hint(&self) -> Option<String> {
        let (ConfigError::Read { path, .. }
        | ConfigError::Syntax { path, .. }
        | ConfigError::Value { path, .. }) = self;
        if path.file_name()? != crate::SITE_FILE {
            return match self {
                ConfigError::Read { .. } => None,
                ConfigError::Syntax { line, .. } => {
                    Some(format!("edit `{}`, line {line}", path.display()))
                }
                ConfigError::Value { key, .. } => {
                    Some(format!("edit `{key}` in `{}`", path.display()))
                }
            };
        }
        let root = path.parent().filter(|dir| !dir.as_os_str().is_empty());
        let root = root.map_or_else(|| ".".into(), |dir| dir.display().to_string());
        Some(format!(
            "edit `{}`, or write it anew with `hoist init --site --force --root {root} [-c FILE]`",
            path.display()
        ))
    }
}
