//! Paths under the site root, and the atomic `current` switch.

use crate::{durable, SiteError};
use std::path::{Path, PathBuf};

/// A site root. Cheap to clone; holds no open files.
#[derive(Debug, Clone)]
pub struct Site {
    root: PathBuf,
}

const DIRS: [&str; 4] = ["releases", "shared", "incoming", "data"];

impl Site {
    /// Opens an existing site.
    pub fn open(root: &Path) -> Result<Site, SiteError> {
        if !root.join("releases").is_dir() {
            let root = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
            return Err(SiteError::NotASite { root });
        }
        let root = root
            .canonicalize()
            .map_err(SiteError::io("cannot resolve", root))?;
        Ok(Site { root })
    }

    /// Opens a site, creating its directories if needed.
    pub fn create(root: &Path) -> Result<Site, SiteError> {
        std::fs::create_dir_all(root).map_err(SiteError::io("cannot create", root))?;
        let root = root
            .canonicalize()
            .map_err(SiteError::io("cannot resolve", root))?;
        for dir in DIRS {
            let path = root.join(dir);
            if !path.is_dir() {
                std::fs::create_dir(&path).map_err(SiteError::io("cannot create", &path))?;
                durable::fsync_dir(&root)?;
            }
        }
        Ok(Site { root })
    }

    /// The root itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `releases/`
    pub fn releases_dir(&self) -> PathBuf {
        self.root.join("releases")
    }
    /// `releases/<id>`
    pub fn release_dir(&self, id: &str) -> PathBuf {
        self.releases_dir().join(id)
    }
    /// `releases/<id>.partial`: a release being unpacked.
    pub fn partial_dir(&self, id: &str) -> PathBuf {
        self.releases_dir().join(format!("{id}.partial"))
    }
    /// `releases/<id>.deleting`: a release being pruned.
    pub fn deleting_dir(&self, id: &str) -> PathBuf {
        self.releases_dir().join(format!("{id}.deleting"))
    }
    /// `shared/`
    pub fn shared_dir(&self) -> PathBuf {
        self.root.join("shared")
    }
    /// `incoming/`
    pub fn incoming_dir(&self) -> PathBuf {
        self.root.join("incoming")
    }
    /// `incoming/<id>.tar.zst`: the artifact release `id` was deployed
    /// from, kept while the release is on disk so `hoist repair` can
    /// restore it.
    pub fn kept_artifact(&self, id: &str) -> PathBuf {
        self.incoming_dir().join(format!("{id}.tar.zst"))
    }
    /// `fleet/`: releases on their way in from a deploying machine
    /// (`hoist fleet receive`), and the artifacts assembled from them.
    pub fn fleet_dir(&self) -> PathBuf {
        self.root.join("fleet")
    }
    /// `data/`
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    /// `data/current`: the live data version, what `HOIST_DATA` names.
    pub fn data_current_link(&self) -> PathBuf {
        self.data_dir().join("current")
    }
    /// `current`
    pub fn current_link(&self) -> PathBuf {
        self.root.join("current")
    }
    /// The SQLite ledger.
    pub fn ledger_path(&self) -> PathBuf {
        self.root.join("ledger.sqlite")
    }
    /// The deploy lock.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("deploy.lock")
    }
    /// The fleet lock ([`crate::FleetLock`]).
    pub fn fleet_lock_path(&self) -> PathBuf {
        self.root.join("fleet.lock")
    }
    /// Names the fleet operation that drained this host at its balancer,
    /// while it is drained (so a fleet operation that died mid-switch does
    /// not leave it out of rotation unnoticed).
    pub fn fleet_drained_path(&self) -> PathBuf {
        self.root.join("fleet-drained")
    }
    /// The journal of the operation in flight.
    pub fn journal_path(&self) -> PathBuf {
        self.root.join("journal.json")
    }
    /// The agent's admin socket.
    pub fn socket_path(&self) -> PathBuf {
        self.root.join("agent.sock")
    }

    /// The live release id, read from `current`; `None` before the first deploy.
    pub fn live(&self) -> Result<Option<String>, SiteError> {
        let link = self.current_link();
        let metadata = match std::fs::symlink_metadata(&link) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SiteError::Io {
                    action: "cannot stat",
                    path: link,
                    cause: source,
                })
            }
        };
        if !metadata.is_symlink() {
            return Err(SiteError::CurrentIsDirectory { path: link });
        }
        let target = std::fs::read_link(&link).map_err(SiteError::io("cannot read link", &link))?;
        let mut parts = target.components();
        let in_releases = parts
            .next()
            .is_some_and(|part| part.as_os_str() == "releases");
        match (in_releases, parts.next(), parts.next()) {
            (true, Some(id), None) => Ok(Some(id.as_os_str().to_string_lossy().into_owned())),
            _ => Err(SiteError::CurrentIsForeign { path: link, target }),
        }
    }

    /// Points `current` at `releases/<id>` atomically: a new symlink renamed
    /// over the old one, then a directory fsync. Never `ln -sf`, which
    /// unlinks first and leaves a moment with no `current` at all.
    pub fn switch_to(&self, id: &str) -> Result<(), SiteError> {
        self.live()?; // refuses a real directory or a foreign link before touching anything
        let temp = self
            .root
            .join(format!(".current.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&temp);
        std::os::unix::fs::symlink(Path::new("releases").join(id), &temp)
            .map_err(SiteError::io("cannot create link", &temp))?;
        durable::rename(&temp, &self.current_link())
    }

    /// Ids of complete releases on disk, oldest first.
    pub fn release_ids(&self) -> Result<Vec<String>, SiteError> {
        let mut ids = Vec::new();
        for (name, is_dir) in self.list_releases_dir()? {
            if is_dir
                && !name.starts_with('.')
                && !name.ends_with(".partial")
                && !name.ends_with(".deleting")
            {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Leftovers of interrupted work: `*.partial` and `*.deleting` dirs.
    pub fn leftovers(&self) -> Result<Vec<PathBuf>, SiteError> {
        let names = self.list_releases_dir()?;
        let stale = names
            .into_iter()
            .filter(|(name, _)| name.ends_with(".partial") || name.ends_with(".deleting"));
        Ok(stale
            .map(|(name, _)| self.releases_dir().join(name))
            .collect())
    }

    fn list_releases_dir(&self) -> Result<Vec<(String, bool)>, SiteError> {
        let dir = self.releases_dir();
        let mut names = Vec::new();
        for item in std::fs::read_dir(&dir).map_err(SiteError::io("cannot list", &dir))? {
            let item = item.map_err(SiteError::io("cannot list", &dir))?;
            let is_dir = item.file_type().is_ok_and(|kind| kind.is_dir());
            names.push((item.file_name().to_string_lossy().into_owned(), is_dir));
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_replaces_current_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        for id in ["a", "b"] {
            std::fs::create_dir(site.release_dir(id)).unwrap();
        }
        assert_eq!(site.live().unwrap(), None);
        site.switch_to("a").unwrap();
        assert_eq!(site.live().unwrap().as_deref(), Some("a"));
        site.switch_to("b").unwrap();
        assert_eq!(site.live().unwrap().as_deref(), Some("b"));
        assert_eq!(site.release_ids().unwrap(), ["a", "b"]);
    }

    #[test]
    fn current_as_a_directory_is_refused_with_guidance() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        std::fs::create_dir(site.current_link()).unwrap();
        std::fs::create_dir(site.release_dir("a")).unwrap();
        let error = site.switch_to("a").unwrap_err().to_string();
        assert!(
            error.contains("real directory") && error.contains("mv "),
            "{error}"
        );
        assert!(site.current_link().is_dir());
    }
}
