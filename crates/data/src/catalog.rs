//! The versions on disk and their metadata: `data/versions/<id>/` holds the
//! files the app reads, `data/meta/<id>.json` what hoist knows about them.

use crate::tree::Entry;
use crate::DataError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What hoist records about one version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    /// `20261122T101500Z-<digest>`: sorts by load time.
    pub id: String,
    /// `--label`.
    pub label: Option<String>,
    /// When it was loaded.
    pub created_at: jiff::Timestamp,
    /// Where it came from.
    pub source: String,
    /// Content digest over every entry.
    pub digest: String,
    /// Total file bytes.
    pub bytes: u64,
    /// Regular files.
    pub files: u64,
    /// Every path.
    pub entries: Vec<Entry>,
}

/// The `data/` part of a site.
#[derive(Debug, Clone)]
pub struct Catalog {
    data: PathBuf,
}

impl Catalog {
    /// The catalog under `data_dir`, creating its directories.
    pub fn open(data_dir: &Path) -> Result<Catalog, DataError> {
        for dir in [data_dir.join("versions"), data_dir.join("meta")] {
            std::fs::create_dir_all(&dir).map_err(DataError::io("cannot create", &dir))?;
        }
        Ok(Catalog {
            data: data_dir.to_owned(),
        })
    }

    pub(crate) fn at(data_dir: &Path) -> Catalog {
        Catalog {
            data: data_dir.to_owned(),
        }
    }

    /// `data/`
    pub fn dir(&self) -> &Path {
        &self.data
    }
    /// `data/versions/<id>`
    pub fn version_dir(&self, id: &str) -> PathBuf {
        self.data.join("versions").join(id)
    }
    pub(crate) fn meta_path(&self, id: &str) -> PathBuf {
        self.data.join("meta").join(format!("{id}.json"))
    }
    /// `data/current`
    pub fn current_link(&self) -> PathBuf {
        self.data.join("current")
    }
    /// `data/previous`: what `revert` goes back to.
    pub fn previous_link(&self) -> PathBuf {
        self.data.join("previous")
    }

    /// Complete versions, oldest first (ids sort by time).
    pub fn ids(&self) -> Result<Vec<String>, DataError> {
        let dir = self.data.join("versions");
        let mut ids = Vec::new();
        for item in std::fs::read_dir(&dir).map_err(DataError::io("cannot list", &dir))? {
            let item = item.map_err(DataError::io("cannot list", &dir))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let complete = !name.starts_with('.')
                && !name.contains(".partial")
                && !name.ends_with(".deleting");
            if complete && item.path().is_dir() && self.meta_path(&name).is_file() {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Leftovers of a killed load or prune.
    pub(crate) fn leftovers(&self) -> Vec<PathBuf> {
        let dir = self.data.join("versions");
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|item| item.path())
            .filter(|path| {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                name.ends_with(".partial") || name.ends_with(".deleting")
            })
            .collect()
    }

    /// The metadata of `id`.
    pub fn meta(&self, id: &str) -> Result<Meta, DataError> {
        let path = self.meta_path(id);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(DataError::UnknownVersion {
                    version: id.to_owned(),
                })
            }
            Err(source) => {
                return Err(DataError::Io {
                    action: "cannot read",
                    path,
                    cause: source,
                })
            }
        };
        serde_json::from_slice(&bytes).map_err(|error| DataError::Io {
            action: "cannot parse",
            path,
            cause: std::io::Error::other(error),
        })
    }

    pub(crate) fn write_meta(&self, meta: &Meta) -> Result<(), DataError> {
        let json = serde_json::to_vec(meta).expect("meta serialises");
        hoist_site::durable::write_atomic(&self.meta_path(&meta.id), &json)?;
        Ok(())
    }

    /// The version a pointer (`current`, `previous`) names, if any.
    pub fn pointer(&self, link: &Path) -> Result<Option<String>, DataError> {
        match std::fs::read_link(link) {
            Ok(target) => Ok(target
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(DataError::Io {
                action: "cannot read link",
                path: link.to_owned(),
                cause: source,
            }),
        }
    }

    /// Points `link` at `versions/<id>` atomically: a new symlink renamed
    /// over the old one, then a directory fsync.
    pub(crate) fn point(&self, link: &Path, id: &str) -> Result<(), DataError> {
        let name = link.file_name().unwrap_or_default().to_string_lossy();
        let temp = self
            .data
            .join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_file(&temp);
        std::os::unix::fs::symlink(Path::new("versions").join(id), &temp)
            .map_err(DataError::io("cannot create link", &temp))?;
        hoist_site::durable::rename(&temp, link)?;
        Ok(())
    }

    /// Puts `data/current` back on `id`, or removes it for `None` (no data
    /// was live before): how a data roll the app did not take is undone.
    /// `data/previous` is left as it is.
    pub fn put_back(&self, id: Option<&str>) -> Result<(), DataError> {
        match id {
            Some(id) if self.version_dir(id).is_dir() => self.point(&self.current_link(), id),
            Some(id) => Err(DataError::UnknownVersion {
                version: id.to_owned(),
            }),
            None => Ok(hoist_site::durable::remove_file(&self.current_link())?),
        }
    }

    /// The live version.
    pub fn live(&self) -> Result<Option<String>, DataError> {
        self.pointer(&self.current_link())
    }
}
