//! What the site is in: the live release, data and schema versions (as
//! info metrics, `hoist_live_info{release="..."} 1`), maintenance and pause.

use hoist_site::Site;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::info::Info;
use std::sync::Mutex;

/// The versions a scrape names.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Versions {
    /// The live release.
    pub(crate) live: Option<String>,
    /// The data version `data/current` names.
    pub(crate) data: Option<String>,
    /// The newest migration the live release ships: what its deploy
    /// migrated the database to (reading the database itself at every
    /// scrape would cost a connection a second).
    pub(crate) schema: Option<String>,
}

/// The live release's schema version, read from its migrations directory
/// once per live release rather than at every scrape.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache(Mutex<Option<(String, Option<String>)>>);

impl SchemaCache {
    /// The schema version of `release` on `site`.
    pub(crate) fn for_release(&self, site: &Site, release: &str) -> Option<String> {
        let mut cached = self.0.lock().expect("never poisoned");
        if let Some((_, version)) = cached.as_ref().filter(|(known, _)| known == release) {
            return version.clone();
        }
        let version = newest_migration(site, release);
        *cached = Some((release.to_owned(), version.clone()));
        version
    }
}

/// The newest migration `release` ships, in the directory its own
/// `hoist.toml` names (`migrations` when it names none).
fn newest_migration(site: &Site, release: &str) -> Option<String> {
    let dir = site.release_dir(release);
    let migrations = hoist_config::Config::load(&dir.join(hoist_config::FILE_NAME))
        .ok()
        .and_then(|config| config.database)
        .map_or_else(|| "migrations".to_owned(), |database| database.migrations);
    let found = hoist_db::load(&dir.join(migrations)).ok()?;
    found.last().map(|migration| migration.version.to_string())
}

/// Writes the info metrics; a version that is not known has no series.
pub(crate) fn encode_versions(
    versions: &Versions,
    encoder: &mut DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let infos = [
        (
            "hoist_live",
            "The release serving traffic.",
            "release",
            &versions.live,
        ),
        (
            "hoist_data",
            "The data version responses name (data/current).",
            "version",
            &versions.data,
        ),
        (
            "hoist_schema",
            "The newest migration the live release ships, which its deploy applied.",
            "version",
            &versions.schema,
        ),
    ];
    for (name, help, key, value) in infos {
        let Some(value) = value else { continue };
        let info = Info::new([(key, value.as_str())]);
        info.encode(encoder.encode_descriptor(name, help, None, info.metric_type())?)?;
    }
    Ok(())
}
