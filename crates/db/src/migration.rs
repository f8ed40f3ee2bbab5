//! Migration files: `NNNN_name.up.sql`, an optional `NNNN_name.down.sql`,
//! and the `-- hoist:` markers inside them.

use crate::DbError;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// When a migration runs during a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before the switch: an "expand" step the old release tolerates.
    Pre,
    /// After the old release has drained: a "contract" step (`-- hoist: phase=post`).
    Post,
}

impl Phase {
    /// `pre` or `post`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pre => "pre",
            Phase::Post => "post",
        }
    }
}

/// One migration as found on disk.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    /// The `NNNN` number; orders migrations and keys the history.
    pub version: u64,
    /// The file stem without direction: `0003_add_email`.
    pub name: String,
    /// The up file.
    pub path: PathBuf,
    /// The up SQL.
    #[serde(skip)]
    pub up: String,
    /// The down SQL, when a down file exists.
    #[serde(skip)]
    pub down: Option<String>,
    /// False when the up file says `-- hoist: no-transaction`.
    pub transactional: bool,
    /// When a deploy runs it.
    pub phase: Phase,
    /// BLAKE3 of the up SQL with line endings normalised.
    pub checksum: String,
    /// A declarative migration (`NNNN_name.toml`): expanded before the
    /// release starts, contracted later ([`crate::expand`]). PostgreSQL only.
    #[serde(skip)]
    pub change: Option<crate::expand::Change>,
}

impl Migration {
    /// A declarative (expand and contract) migration.
    pub fn is_declarative(&self) -> bool {
        self.change.is_some()
    }
}

/// Reads every migration in `dir`, ordered by version. A missing directory
/// is no migrations; a malformed name, a duplicate version or a down file
/// without its up is an error naming the file.
pub fn load(dir: &Path) -> Result<Vec<Migration>, DbError> {
    let read_dir = |source| DbError::ReadDir {
        path: dir.to_owned(),
        cause: source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(read_dir(error)),
    };
    let mut ups: BTreeMap<u64, Migration> = BTreeMap::new();
    let mut downs: Vec<(u64, String, PathBuf)> = Vec::new();
    for entry in entries {
        let path = entry.map_err(read_dir)?.path();
        let Some(file) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let (stem, up) = if let Some(stem) = file.strip_suffix(".up.sql") {
            (stem, true)
        } else if let Some(stem) = file.strip_suffix(".toml") {
            (stem, true)
        } else if let Some(stem) = file.strip_suffix(".down.sql") {
            (stem, false)
        } else {
            // READMEs and editor files live here too; only *.sql is ours.
            if file.ends_with(".sql") {
                return Err(bad(&path, "must end in `.up.sql` or `.down.sql`"));
            }
            continue;
        };
        let version = parse_version(stem).ok_or_else(|| {
            bad(
                &path,
                "must be named `NNNN_name.up.sql` (or `NNNN_name.toml`), e.g. `0001_create_users.up.sql`",
            )
        })?;
        let text = std::fs::read_to_string(&path).map_err(|source| DbError::ReadDir {
            path: path.clone(),
            cause: source,
        })?;
        if !up {
            downs.push((version, text, path));
            continue;
        }
        if let Some(other) = ups.get(&version) {
            let problem = format!("has the same number as `{}`", other.path.display());
            return Err(bad(&path, &problem));
        }
        let change = if file.ends_with(".toml") {
            let change =
                crate::expand::Change::parse(&text).map_err(|problem| bad(&path, &problem))?;
            Some(change)
        } else {
            None
        };
        let markers = match change {
            Some(_) => Markers::declarative(),
            None => Markers::parse(&text).map_err(|problem| bad(&path, &problem))?,
        };
        ups.insert(
            version,
            Migration {
                version,
                name: stem.to_owned(),
                checksum: checksum(&text),
                up: text,
                down: None,
                transactional: !markers.no_transaction,
                phase: markers.phase,
                path,
                change,
            },
        );
    }
    for (version, text, path) in downs {
        match ups.get_mut(&version) {
            Some(migration) if path.file_name() == Some(down_name(migration).as_ref()) => {
                migration.down = Some(text)
            }
            _ => return Err(bad(&path, "has no matching `.up.sql` file")),
        }
    }
    Ok(ups.into_values().collect())
}

fn down_name(migration: &Migration) -> String {
    format!("{}.down.sql", migration.name)
}

fn bad(path: &Path, problem: &str) -> DbError {
    DbError::BadMigration {
        path: path.to_owned(),
        problem: problem.to_owned(),
    }
}

/// `0003_add_email` → 3. The name part must be present and plain.
fn parse_version(stem: &str) -> Option<u64> {
    let (digits, name) = stem.split_once('_')?;
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if name.is_empty() || !name.chars().all(plain) {
        return None;
    }
    digits.parse().ok()
}

/// The checksum of a migration's text: CRLF and CR become LF first, so a
/// checkout on another OS is not "drift".
pub fn checksum(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    blake3::hash(normalised.as_bytes()).to_hex()[..16].to_owned()
}

/// `-- hoist: no-transaction` and `-- hoist: phase=post`.
struct Markers {
    no_transaction: bool,
    phase: Phase,
}

impl Markers {
    /// A `.toml` migration has no markers: it runs in its own two phases.
    fn declarative() -> Markers {
        Markers {
            no_transaction: false,
            phase: Phase::Pre,
        }
    }

    fn parse(text: &str) -> Result<Markers, String> {
        let mut markers = Markers {
            no_transaction: false,
            phase: Phase::Pre,
        };
        for line in text.lines() {
            let Some(rest) = line.trim().strip_prefix("--") else {
                continue;
            };
            let Some(words) = rest.trim().strip_prefix("hoist:") else {
                continue;
            };
            for word in words.split_whitespace() {
                match word {
                    "no-transaction" => markers.no_transaction = true,
                    "phase=post" => markers.phase = Phase::Post,
                    "phase=pre" => markers.phase = Phase::Pre,
                    other => {
                        return Err(format!(
                            "unknown marker `{other}`; hoist knows `-- hoist: no-transaction` and `-- hoist: phase=post`"
                        ))
                    }
                }
            }
        }
        Ok(markers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn loads_in_order_with_markers_and_downs() {
        let dir = dir_with(&[
            (
                "0002_index.up.sql",
                "-- hoist: no-transaction\nCREATE INDEX i ON t(a);\n",
            ),
            ("0001_create.up.sql", "CREATE TABLE t(a int);\n"),
            ("0001_create.down.sql", "DROP TABLE t;\n"),
            (
                "0003_drop_old.up.sql",
                "-- hoist: phase=post\nALTER TABLE t DROP COLUMN b;\n",
            ),
            ("README.md", "notes"),
        ]);
        let migrations = load(dir.path()).unwrap();
        let names: Vec<_> = migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["0001_create", "0002_index", "0003_drop_old"]);
        assert_eq!(migrations[0].down.as_deref(), Some("DROP TABLE t;\n"));
        assert!(migrations[0].transactional && !migrations[1].transactional);
        assert_eq!(migrations[2].phase, Phase::Post);
    }

    #[test]
    fn bad_names_and_orphans_are_named() {
        for (files, expect) in [
            (vec![("1-create.up.sql", "")], "`NNNN_name.up.sql`"),
            (vec![("0001_a.sql", "")], "`.up.sql`"),
            (vec![("0001_a.down.sql", "")], "no matching"),
            (
                vec![("0001_a.up.sql", ""), ("01_b.up.sql", "")],
                "same number",
            ),
            (
                vec![("0001_a.up.sql", "-- hoist: no-transacton\n")],
                "unknown marker",
            ),
        ] {
            let dir = dir_with(&files);
            let message = load(dir.path()).unwrap_err().to_string();
            assert!(message.contains(expect), "{message}");
        }
    }

    #[test]
    fn checksum_ignores_line_endings_only() {
        assert_eq!(checksum("a;\r\nb;\r\n"), checksum("a;\nb;\n"));
        assert_ne!(checksum("a;\nb;\n"), checksum("a;\nc;\n"));
    }
}
