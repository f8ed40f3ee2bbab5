//! Which PostgreSQL schema each release's processes use: its own view
//! schema during an expansion (`hoist_<release>`, see issue 17), or the
//! base schema.
//!
//! A deploy writes `<root>/state/db-schema/<release>` (one line, the
//! `search_path`: `hoist_v2,public`, or `public`) before the release
//! starts; whatever starts the release's processes (the agent, the
//! external restart command, a hook) reads it here and adds
//! `HOIST_DB_SCHEMA` and, with a view schema, `PGOPTIONS`. A contract or
//! an abort drops the view schemas, and puts every release back on the
//! base schema ([`rebase_db_schemas`]).
//!
//! ```no_run
//! # let site = hoist_site::Site::open("/srv/shop".as_ref()).unwrap();
//! hoist_site::write_db_schema(&site, "v2", &["hoist_v2".into(), "public".into()]).unwrap();
//! let mut env = vec![("PGOPTIONS".to_owned(), "-c statement_timeout=5s".to_owned())];
//! hoist_site::db_schema(&site, "v2").unwrap().unwrap().apply(&mut env);
//! assert_eq!(env[0].1, "-c statement_timeout=5s -c search_path=hoist_v2,public");
//! ```

use crate::{durable, Site, SiteError};
use std::path::PathBuf;

/// The variable naming the schema a release's tables are in.
pub const SCHEMA_ENV: &str = "HOIST_DB_SCHEMA";

/// libpq's extra options, where `-c search_path=...` goes.
pub const PGOPTIONS_ENV: &str = "PGOPTIONS";

/// The schemas a release's processes look tables up in, first one first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSchema {
    /// `[hoist_v2, public]`, or `[public]`.
    pub search_path: Vec<String>,
}

impl DbSchema {
    /// The schema the release's own shape is in (`HOIST_DB_SCHEMA`).
    pub fn schema(&self) -> &str {
        self.search_path.first().map_or("public", String::as_str)
    }

    /// A view schema in front of the base one: processes need `PGOPTIONS`.
    pub fn has_view(&self) -> bool {
        self.search_path.len() > 1
    }

    /// Adds `HOIST_DB_SCHEMA` to `env`, and with a view schema appends
    /// `-c search_path=...` to its `PGOPTIONS` (an env file's own options
    /// are kept, in front; a later `-c` wins in libpq).
    pub fn apply(&self, env: &mut Vec<(String, String)>) {
        env.retain(|(name, _)| name != SCHEMA_ENV);
        env.push((SCHEMA_ENV.to_owned(), self.schema().to_owned()));
        if !self.has_view() {
            return;
        }
        let option = format!("-c search_path={}", self.search_path.join(","));
        match env.iter_mut().find(|(name, _)| name == PGOPTIONS_ENV) {
            Some((_, value)) if !value.trim().is_empty() => *value = format!("{value} {option}"),
            Some((_, value)) => *value = option,
            None => env.push((PGOPTIONS_ENV.to_owned(), option)),
        }
    }
}

impl Site {
    /// `state/db-schema/`: one file per release that has a recorded schema.
    pub fn db_schema_dir(&self) -> PathBuf {
        self.root().join("state").join("db-schema")
    }
}

/// Records, durably, the `search_path` of `release`'s processes.
pub fn write_db_schema(
    site: &Site,
    release: &str,
    search_path: &[String],
) -> Result<(), SiteError> {
    let dir = site.db_schema_dir();
    if let Some(bad) = search_path.iter().find(|name| !plain(name)) {
        return Err(SiteError::BadStateFile {
            path: dir.join(release),
            message: format!("`{bad}` is not a plain schema name"),
        });
    }
    std::fs::create_dir_all(&dir).map_err(SiteError::io("cannot create", &dir))?;
    let text = format!("{}\n", search_path.join(","));
    durable::write_state(&dir.join(release), text.as_bytes(), site.state_access())
}

/// The recorded schema of `release`, if a deploy recorded one.
pub fn db_schema(site: &Site, release: &str) -> Result<Option<DbSchema>, SiteError> {
    let path = site.db_schema_dir().join(release);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => {
            return Err(SiteError::Io {
                action: "cannot read",
                path,
                cause,
            })
        }
    };
    let search_path: Vec<String> = text.trim().split(',').map(str::to_owned).collect();
    // It goes into `PGOPTIONS`: a space would start another option.
    if search_path.iter().any(|name| !plain(name)) {
        return Err(SiteError::BadStateFile {
            path,
            message: format!("`{}` is not a list of plain schema names", text.trim()),
        });
    }
    Ok(Some(DbSchema { search_path }))
}

/// Forgets `release`'s schema (the release is gone).
pub fn forget_db_schema(site: &Site, release: &str) -> Result<(), SiteError> {
    durable::remove_file(&site.db_schema_dir().join(release))
}

/// After a contract or an abort dropped every view schema: each release
/// with a recorded schema uses `base` from its next start on. Returns the
/// releases that had a view schema.
pub fn rebase_db_schemas(site: &Site, base: &str) -> Result<Vec<String>, SiteError> {
    let dir = site.db_schema_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(cause) => {
            return Err(SiteError::Io {
                action: "cannot read",
                path: dir,
                cause,
            })
        }
    };
    let mut moved = Vec::new();
    for entry in entries.flatten() {
        let release = entry.file_name().to_string_lossy().into_owned();
        if release.starts_with('.') {
            continue;
        }
        let had_view = db_schema(site, &release)
            .ok()
            .flatten()
            .is_none_or(|schema| schema.has_view() || schema.schema() != base);
        if had_view {
            write_db_schema(site, &release, &[base.to_owned()])?;
            moved.push(release);
        }
    }
    moved.sort();
    Ok(moved)
}

/// A schema name hoist makes or accepts: `[a-z0-9_]+`.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_schema_goes_in_front_of_the_env_files_options() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        let path = ["hoist_v2".to_owned(), "public".to_owned()];
        write_db_schema(&site, "v2", &path).unwrap();
        let schema = db_schema(&site, "v2").unwrap().unwrap();
        let mut env = vec![("PGOPTIONS".into(), "-c work_mem=8MB".into())];
        schema.apply(&mut env);
        assert_eq!(
            env,
            [
                (
                    "PGOPTIONS".into(),
                    "-c work_mem=8MB -c search_path=hoist_v2,public".into()
                ),
                ("HOIST_DB_SCHEMA".into(), "hoist_v2".into())
            ]
        );
        assert!(db_schema(&site, "v1").unwrap().is_none());
    }

    #[test]
    fn the_base_schema_sets_no_search_path() {
        let schema = DbSchema {
            search_path: vec!["public".into()],
        };
        let mut env = Vec::new();
        schema.apply(&mut env);
        assert_eq!(env, [("HOIST_DB_SCHEMA".into(), "public".into())]);
    }

    #[test]
    fn rebase_puts_every_view_schema_back_on_the_base() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        write_db_schema(&site, "v1", &["public".into()]).unwrap();
        write_db_schema(&site, "v2", &["hoist_v2".into(), "public".into()]).unwrap();
        assert_eq!(rebase_db_schemas(&site, "public").unwrap(), ["v2"]);
        let v2 = db_schema(&site, "v2").unwrap().unwrap();
        assert_eq!(v2.search_path, ["public"]);
    }

    #[test]
    fn a_name_that_would_smuggle_options_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site::create(dir.path()).unwrap();
        let bad = ["x -c role=admin".to_owned()];
        assert!(write_db_schema(&site, "v2", &bad).is_err());
        std::fs::create_dir_all(site.db_schema_dir()).unwrap();
        std::fs::write(site.db_schema_dir().join("v3"), "a b\n").unwrap();
        assert!(db_schema(&site, "v3").is_err());
    }
}
