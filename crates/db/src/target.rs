//! `[database] url`: which engine, and where.

use crate::{DbError, Driver, Postgres, Sqlite};
use std::path::{Path, PathBuf};

/// A parsed database url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `sqlite://PATH`; a relative path is under the site root.
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`, as given.
    Postgres(String),
}

impl Target {
    /// Parses `url`, resolving a relative SQLite path against `base` (the site root).
    pub fn parse(url: &str, base: &Path) -> Result<Target, DbError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::BadUrl {
                    url: url.to_owned(),
                });
            }
            return Ok(Target::Sqlite(base.join(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_owned()));
        }
        Err(DbError::BadUrl {
            url: url.to_owned(),
        })
    }

    /// Connects.
    pub fn open(&self) -> Result<Box<dyn Driver>, DbError> {
        Ok(match self {
            Target::Sqlite(path) => Box::new(Sqlite::open(path)?),
            Target::Postgres(url) => Box::new(Postgres::connect(url)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_under_the_root_and_bad_schemes_are_named() {
        let target = Target::parse("sqlite://shared/app.db", Path::new("/srv/shop")).unwrap();
        assert_eq!(target, Target::Sqlite("/srv/shop/shared/app.db".into()));
        let absolute = Target::parse("sqlite:///var/db/app.db", Path::new("/srv")).unwrap();
        assert_eq!(absolute, Target::Sqlite("/var/db/app.db".into()));
        let message = Target::parse("mysql://x", Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("`mysql://x`"), "{message}");
    }
}
