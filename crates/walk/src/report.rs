//! What a walk found: one shape for people and for `--json`.

use serde::Serialize;
use std::fmt;

/// The outcome of a walk.
#[derive(Debug, Clone, Serialize)]
pub struct WalkReport {
    /// Where it started.
    pub start: String,
    /// Requests sent (pages and other linked files).
    pub pages: usize,
    /// Links that answered 4xx or 5xx, or not at all, by URL.
    pub dead: Vec<DeadLink>,
    /// `max_pages` ran out before every link was checked.
    pub truncated: bool,
    /// Pages bigger than the walk reads ([`crate::MAX_PAGE_BYTES`]): read
    /// only in part, so their links past that were not checked.
    pub cut_pages: Vec<String>,
}

/// One dead link and the pages that link to it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLink {
    /// The link, resolved.
    pub url: String,
    /// Its status, when it answered.
    pub status: Option<u16>,
    /// `answered 404`, or why there was no answer.
    pub problem: String,
    /// Pages that link to it (at most ten); empty for the start page.
    pub linked_from: Vec<String>,
}

impl WalkReport {
    /// No dead links.
    pub fn is_clean(&self) -> bool {
        self.dead.is_empty()
    }

    /// What the walk could not check, one warning a line: pages read only
    /// in part (the walk never passes over that in silence).
    pub fn warnings(&self) -> Vec<String> {
        self.cut_pages
            .iter()
            .map(|page| {
                format!(
                    "{page} is bigger than {} MiB; the walk read only its start, so links past that were not checked",
                    crate::MAX_PAGE_BYTES >> 20
                )
            })
            .collect()
    }

    /// One line: how many pages, how many dead.
    pub fn summary(&self) -> String {
        let cut = if self.truncated {
            " (stopped at `max_pages`)"
        } else {
            ""
        };
        format!(
            "walked {} page(s) from {}{cut}: {} dead link(s)",
            self.pages,
            self.start,
            self.dead.len()
        )
    }
}

impl fmt::Display for DeadLink {
    /// `URL (answered 404), linked from PAGE, PAGE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.url, self.problem)?;
        if self.linked_from.is_empty() {
            f.write_str(", the start page")
        } else {
            write!(f, ", linked from {}", self.linked_from.join(", "))
        }
    }
}
