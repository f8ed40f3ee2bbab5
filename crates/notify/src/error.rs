//! What can go wrong handing a message on (delivery failures are not
//! errors: they are retried, then logged and recorded).

use std::path::PathBuf;

/// A message that could not be spooled, or a deliverer that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The spool could not be written.
    #[error("cannot spool the notification in `{path}`: {cause}; check the site's disk and permissions, then `hoist history` tells what was not sent")]
    Spool {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        cause: std::io::Error,
    },
    /// The spooled file could not be written durably (it names the file).
    #[error("cannot spool the notification: {0}; check the site's disk and permissions, then `hoist history` tells what was not sent")]
    Written(#[from] hoist_site::SiteError),
    /// The deliverer did not start; the message waits in the spool for the next one.
    #[error("cannot start `hoist {}`: {cause}; the message waits in `{spool}` for the next deploy or rollback", crate::SUBCOMMAND)]
    Spawn {
        /// The spool directory.
        spool: PathBuf,
        /// Why.
        #[source]
        cause: std::io::Error,
    },
}
