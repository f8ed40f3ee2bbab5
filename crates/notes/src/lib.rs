//! Deployment notes: what changed between the live release and the next
//! one, as the commits between their git revisions say it (seed 002's
//! convention: deployment steps written in commit messages under a
//! `Deployment:` header, pulled out between two versions).
//!
//! - [`git`] reads the commits with `git log` (the working tree's own git,
//!   run with explicit arguments: no library needs to agree with the
//!   user's repository format, hooks or config);
//! - [`section`] finds each message's `Deployment:` section and whether a
//!   note speaks of a schema change;
//! - [`Notes`] holds the result, renders it, and warns when a note speaks
//!   of a schema change the release ships no migration for.
//!
//! Reading notes never fails: an unknown revision or a missing repository
//! is said in [`Notes::unavailable`], and a deploy goes on without notes.
//!
//! ```no_run
//! use hoist_notes::{Notes, Side};
//! let from = Side { label: "live".into(), revision: Some("1a2b3c4".into()), migrations: None, unknown: None };
//! let to = Side { label: "HEAD".into(), revision: Some("HEAD".into()), migrations: None, unknown: None };
//! let notes = Notes::between(".".as_ref(), &from, &to);
//! print!("{}", notes.render());
//! ```

pub mod git;
pub mod section;

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One end of the range: a release, an artifact or a git revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// How the user named it (a release id, an artifact path, a revision).
    pub label: String,
    /// Its git revision, when known (an artifact built outside a checkout has none).
    pub revision: Option<String>,
    /// The migration files it ships (paths under its migrations directory),
    /// when known: the schema warning compares the two sides'. `None`
    /// too for an app with no `[database]`, which has no schema to warn of.
    pub migrations: Option<Vec<String>>,
    /// Why it has no revision, when that is known exactly (no such
    /// release, no site): said instead of the general guess.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// One commit between the two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Its abbreviated id.
    pub id: String,
    /// Its first line.
    pub subject: String,
    /// Its `Deployment:` section, in full, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

/// The notes for a deploy from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notes {
    /// Where they start (exclusive).
    pub from: Side,
    /// Where they end (inclusive).
    pub to: Side,
    /// The commits, newest first.
    pub commits: Vec<Commit>,
    /// When `to` is older than `from` (a downgrade): the commits going
    /// there undoes, newest first; `commits` is empty then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undone: Vec<Commit>,
    /// Things to read before switching (a schema change with no migration).
    pub warnings: Vec<String>,
    /// Why there are no notes, when there are none to read: said plainly
    /// rather than guessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl Notes {
    /// The commits of the repository at `repo` between `from` and `to`,
    /// with the schema warning. Never fails: see [`Notes::unavailable`].
    pub fn between(repo: &Path, from: &Side, to: &Side) -> Notes {
        let mut notes = Notes {
            from: from.clone(),
            to: to.clone(),
            commits: Vec::new(),
            undone: Vec::new(),
            warnings: Vec::new(),
            unavailable: None,
        };
        let (Some(old), Some(new)) = (&from.revision, &to.revision) else {
            let unknown = if from.revision.is_none() { from } else { to };
            notes.unavailable = Some(unknown.unknown.clone().unwrap_or_else(|| format!(
                "the git revision of `{}` is unknown (built outside a git checkout, or nothing is live), so there are no notes",
                unknown.label
            )));
            return notes;
        };
        match git::log(repo, old, new) {
            Ok(commits) => notes.commits = commits,
            Err(problem) => {
                notes.unavailable = Some(problem.to_string());
                return notes;
            }
        }
        if notes.commits.is_empty() {
            // Nothing forward: `to` may be behind `from`, a downgrade.
            notes.undone = git::log(repo, new, old).unwrap_or_default();
        }
        notes.warnings = notes.schema_warnings();
        notes
    }

    /// A warning for each note that speaks of a schema change when `to`
    /// adds no migration to those `from` has.
    fn schema_warnings(&self) -> Vec<String> {
        let adds_migration = match (&self.from.migrations, &self.to.migrations) {
            (Some(old), Some(new)) => new.iter().any(|file| !old.contains(file)),
            // Unknown: no claim either way.
            _ => return Vec::new(),
        };
        if adds_migration {
            return Vec::new();
        }
        self.commits
            .iter()
            .filter(|commit| {
                commit
                    .deployment
                    .as_deref()
                    .is_some_and(section::mentions_schema)
            })
            .map(|commit| {
                format!(
                    "commit {} (`{}`) notes a schema change, but `{}` adds no migration to those of `{}`",
                    commit.id, commit.subject, self.to.label, self.from.label
                )
            })
            .collect()
    }

    /// Whether there is anything to show besides the range.
    pub fn is_empty(&self) -> bool {
        self.commits.is_empty()
            && self.undone.is_empty()
            && self.warnings.is_empty()
            && self.unavailable.is_none()
    }

    /// The notes as a person reads them: subjects, then each
    /// `Deployment:` section in full, then warnings.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if let Some(problem) = &self.unavailable {
            let _ = writeln!(out, "no deployment notes: {problem}");
            return out;
        }
        if !self.undone.is_empty() {
            let _ = writeln!(
                out,
                "`{}` is older than `{}`: going there is a downgrade that undoes {}:",
                self.to.label,
                self.from.label,
                count(self.undone.len())
            );
            for commit in &self.undone {
                let _ = writeln!(out, "  {} {}", commit.id, commit.subject);
            }
        } else if self.commits.is_empty() {
            let _ = writeln!(
                out,
                "no commits between `{}` and `{}`",
                self.from.label, self.to.label
            );
        }
        for commit in &self.commits {
            let _ = writeln!(out, "{} {}", commit.id, commit.subject);
        }
        for commit in self.commits.iter().filter(|c| c.deployment.is_some()) {
            let _ = writeln!(out, "\n{} {}:", commit.id, commit.subject);
            for line in commit.deployment.as_deref().unwrap_or_default().lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "\nwarning: {warning}");
        }
        out
    }
}

/// `1 commit`, `3 commits`.
fn count(n: usize) -> String {
    if n == 1 {
        "1 commit".to_owned()
    } else {
        format!("{n} commits")
    }
}
