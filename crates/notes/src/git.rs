//! The commits between two revisions, read with the working tree's `git`.
//!
//! `git log` through [`std::process::Command`] with explicit arguments
//! (never a shell): it reads any repository the user's own git reads
//! (worktrees, shallow clones, `safe.directory`), and needs no library
//! to track git's formats. A missing `git`, a directory that is no
//! repository, or a revision it does not have is an [`Unreadable`] that
//! says which.

use crate::{section, Commit};
use std::path::Path;
use std::process::Command;

/// Why the commits could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

/// Separates fields and records in `git log`'s output (ASCII unit and
/// record separators, which commit messages do not hold).
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

/// The commits reachable from `to` and not from `from`, newest first.
pub fn log(repo: &Path, from: &str, to: &str) -> Result<Vec<Commit>, Unreadable> {
    let top = git(repo, &["rev-parse", "--show-toplevel"]).map_err(|problem| {
        Unreadable(format!(
            "`{}` is not in a git repository ({problem}); run `hoist notes` in the app's checkout",
            repo.display()
        ))
    })?;
    for revision in [from, to] {
        let spec = format!("{revision}^{{commit}}");
        if git(repo, &["rev-parse", "--verify", "--quiet", &spec]).is_err() {
            // A shallow clone lacks old commits; plain `git fetch` does not bring them.
            let shallow = git(repo, &["rev-parse", "--is-shallow-repository"])
                .is_ok_and(|answer| answer.trim() == "true");
            let fix = if shallow {
                "it is a shallow clone: run `git fetch --unshallow`"
            } else {
                "fetch it, or run `hoist notes` where it was built"
            };
            return Err(Unreadable(format!(
                "the repository at `{}` has no commit `{revision}` ({fix})",
                top.trim()
            )));
        }
    }
    let range = format!("{from}..{to}");
    let format = format!("--format=%h{FIELD}%s{FIELD}%B{RECORD}");
    let text = git(repo, &["log", "--no-color", &format, &range, "--"]).map_err(Unreadable)?;
    Ok(text
        .split(RECORD)
        .filter_map(|record| {
            let mut fields = record.trim_start_matches('\n').splitn(3, FIELD);
            let id = fields.next()?.trim().to_owned();
            let subject = fields.next()?.to_owned();
            let body = fields.next().unwrap_or_default();
            (!id.is_empty()).then(|| Commit {
                id,
                subject,
                deployment: section::deployment(body),
            })
        })
        .collect())
}

/// The files under `dir` at `revision` (for a side named by a revision).
pub fn files_at(repo: &Path, revision: &str, dir: &str) -> Option<Vec<String>> {
    let text = git(repo, &["ls-tree", "-r", "--name-only", revision, "--", dir]).ok()?;
    Some(text.lines().map(str::to_owned).collect())
}

/// Runs `git -C repo args…`; its stdout, or what went wrong.
fn git(repo: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|error| format!("cannot run `git`: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(stderr.lines().next().unwrap_or("git failed").to_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
