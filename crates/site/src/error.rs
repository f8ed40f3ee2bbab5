use std::path::PathBuf;

/// What can go wrong with the site layout, lock or journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// An I/O error on a named path.
    #[error("{action} `{}`: {cause}", path.display())]
    Io {
        /// What hoist was doing.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The root does not exist or is not a hoist site.
    #[error("`{}` is not a hoist site (no `releases/` dir); deploy to it once, or pass the right `--root`", root.display())]
    NotASite {
        /// The root given.
        root: PathBuf,
    },
    /// `current` is a real directory, as left by `mv deploy live` style deploys.
    #[error("`{}` is a real directory, not a symlink; move it aside (`mv {0} {0}.old`), deploy, then remove the old tree", path.display())]
    CurrentIsDirectory {
        /// The `current` path.
        path: PathBuf,
    },
    /// `current` points somewhere that is not `releases/<id>`.
    #[error("`{}` points to `{}`, not into `releases/`; remove the link and deploy again", path.display(), target.display())]
    CurrentIsForeign {
        /// The `current` path.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// Another live deploy holds the lock.
    #[error("the site is locked by {holder}; {}", if holder.user.is_empty() { "wait for it to finish, or stop it (the hint shows who has it)" } else { "wait for it, or if it is stuck break the lock" })]
    Locked {
        /// Who holds it (boxed: every `Result` carrying this error stays small).
        holder: Box<crate::LockHolder>,
        /// The lock file.
        lock: PathBuf,
    },
    /// A secret file any local user can read or change.
    #[error("`{}` holds a secret but is readable or writable by every user (mode {mode:04o}); run `chmod 600 {}` (or 640 with a trusted group)", path.display(), file.display())]
    SecretExposed {
        /// The path configured.
        path: PathBuf,
        /// The file itself, where `path` is a symlink (the one to chmod).
        file: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A state file exists but cannot be parsed.
    #[error("state file `{}` is unreadable: {message}; inspect it, then move it aside", path.display())]
    BadStateFile {
        /// The file.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
}

impl SiteError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> SiteError {
        let path = path.into();
        move |cause| SiteError::Io {
            action,
            path,
            cause,
        }
    }
}

impl hoist_error::Described for SiteError {
    fn kind(&self) -> &'static str {
        match self {
            SiteError::Io { cause, .. } => hoist_error::io_kind(cause),
            SiteError::NotASite { .. } => "not-a-site",
            SiteError::CurrentIsDirectory { .. } => "current-is-directory",
            SiteError::CurrentIsForeign { .. } => "current-is-foreign",
            SiteError::Locked { .. } => "lock-held",
            SiteError::SecretExposed { .. } => "secret-exposed",
            SiteError::BadStateFile { .. } => "state-file-invalid",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            // Not hoist's lock: `unlock` cannot break a live flock; show who has it.
            // A fleet operation's lock ends with it (or its ssh connection);
            // `unlock` cannot break it: show the process holding it.
            SiteError::Locked { holder, lock }
                if holder.user.is_empty() || holder.fleet_op.is_some() =>
            {
                Some(format!("fuser -v {}", lock.display()))
            }
            SiteError::Locked { .. } => hoist_error::command("unlock --reason ..."),
            SiteError::SecretExposed { file, .. } => Some(format!("chmod 600 {}", file.display())),
            SiteError::CurrentIsDirectory { path } => {
                Some(format!("mv {0} {0}.old", path.display()))
            }
            _ => None,
        }
    }
}
