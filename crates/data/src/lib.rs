//! Versioned data sets beside the code: a database file or a directory is
//! loaded as a read-only version, verified, and made live by moving one
//! pointer, the way a Catz-style "roll" does by hand.
//!
//! ```text
//! data/versions/<id>/   read-only copies; unchanged files hard-linked
//! data/meta/<id>.json   digest, label, every file's BLAKE3
//! data/current ->       versions/<id>  (what HOIST_DATA names)
//! data/previous ->      versions/<id>  (what `revert` goes back to)
//! ```
//!
//! Every pointer move is a symlink renamed over the old one plus a
//! directory fsync, so the app sees the old version or the new one,
//! never neither. Every operation is recorded in the ledger.
//!
//! `hoist data roll` itself is `hoist_deploy::data_roll`: it takes the site
//! lock, journals, and moves the pointer with [`DataStore::point`] under
//! this crate's lock ([`DataStore::lock`], which `load`, `pull` and `prune`
//! take alone, so a long load never blocks a deploy). Both locks fail at
//! once when held, and the site lock always comes first: no deadlock.
//!
//! ```no_run
//! use hoist_data::{DataStore, LoadRequest};
//! let site = hoist_site::Site::open("/srv/shop".as_ref()).unwrap();
//! let ledger = hoist_ledger::Ledger::open(&site.ledger_path()).unwrap();
//! let store = DataStore::open(&site, &ledger).unwrap();
//! let request = LoadRequest { source: "catalog.db".into(), ..Default::default() };
//! let loaded = store.load(&request, &mut |_, _| {}).unwrap();
//! store.roll(Some(&loaded.version)).unwrap();
//! ```

mod catalog;
mod error;
mod list;
mod load;
mod roll;
mod tree;

pub use catalog::{Catalog, Meta};
pub use error::DataError;
pub use list::{DataPruneReport, VersionInfo};
pub use load::{new_id, Expected, LoadReport, LoadRequest};
pub use roll::RollReport;
pub use tree::{digest, scan, Entry, Scanned};

use hoist_ledger::{Event, Ledger};
use hoist_site::Site;

/// `data/data.lock`, held: what [`DataStore::point`] asks for, so the
/// pointer only moves under it. Released on drop.
#[derive(Debug)]
pub struct DataLock {
    _file: nix::fcntl::Flock<std::fs::File>,
}

/// The data versions of one site.
#[derive(Debug)]
pub struct DataStore<'a> {
    site: &'a Site,
    ledger: &'a Ledger,
    catalog: Catalog,
}

impl<'a> DataStore<'a> {
    /// Opens the site's `data/`, creating its layout on first use.
    pub fn open(site: &'a Site, ledger: &'a Ledger) -> Result<DataStore<'a>, DataError> {
        Ok(DataStore {
            site,
            ledger,
            catalog: Catalog::open(&site.data_dir())?,
        })
    }

    /// The layout.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The live version, if one was rolled.
    pub fn live(&self) -> Result<Option<String>, DataError> {
        self.catalog.live()
    }

    /// One data command at a time per site; a second one fails at once.
    /// A roll takes the site's deploy lock first and this one second; both
    /// fail at once rather than wait, so the two can never deadlock.
    pub fn lock(&self) -> Result<DataLock, DataError> {
        let path = self.catalog.dir().join("data.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(DataError::io("cannot open", &path))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map(|file| DataLock { _file: file })
            .map_err(|_| DataError::Busy {
                root: self.site.root().to_owned(),
                lock: path,
            })
    }

    /// An event about `version`; `from` and `to` name the live version,
    /// which loads, pulls and prunes keep (a roll sets its own).
    fn event(&self, op: &str, version: Option<&str>) -> Event {
        let live = self.catalog.live().ok().flatten();
        Event {
            release: version.map(str::to_owned),
            from: live.clone(),
            to: live,
            ..Event::one_off(op, hoist_site::user_name(), hoist_site::host_name())
        }
    }
}

impl Catalog {
    /// Another site's catalog, read only: errors if it has no `data/`.
    pub fn open_existing(data_dir: &std::path::Path) -> Result<Catalog, DataError> {
        if !data_dir.is_dir() {
            return Err(DataError::Nothing(format!(
                "`{}` is not a site's data directory",
                data_dir.display()
            )));
        }
        Ok(Catalog::at(data_dir))
    }
}
