//! Why a page could not be built.

use std::path::PathBuf;

/// A page could not be built: the site itself could not be read. (What
/// the ledger, data catalog or database cannot say is shown on the page
/// instead: a status page must render when things are broken.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// The site root could not be opened or read.
    #[error("cannot read site `{root}` for its status page")]
    Site {
        /// The root.
        root: PathBuf,
        /// Why.
        #[source]
        source: Box<hoist_deploy::DeployError>,
    },
}

impl hoist_error::Described for PageError {
    fn kind(&self) -> &'static str {
        match self {
            PageError::Site { source, .. } => source.kind(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            PageError::Site { source, .. } => source.hint(),
        }
    }
}
