//! The `Deployment:` section of a commit message, and whether a note
//! speaks of a schema change.
//!
//! A section starts at a line that is exactly `Deployment:` (any case,
//! surrounding blanks ignored) and runs to the next header line (a single
//! capitalised word or phrase ending in `:`) or to git trailers
//! (`Signed-off-by: …`) after a blank line, else to the end.

use regex::Regex;
use std::sync::LazyLock;

static HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z][A-Za-z0-9 _-]{0,40}:\s*$").expect("valid regex"));
static TRAILER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z][A-Za-z0-9-]*-by: ").expect("valid regex"));
// Seed 002's note: "This version has schema changes - run ddgc_db_autoupgrade.pl".
static SCHEMA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(migrat\w*|schemas?|alter\s+table|alter|columns?|add\s+index|drop\s+table|autoupgrade)\b")
        .expect("valid regex")
});

/// The `Deployment:` section of `message` without its header: blank lines
/// around it dropped and the indentation its lines share removed, so
/// lines indented alike stay alike.
pub fn deployment(message: &str) -> Option<String> {
    let mut lines = message.lines();
    lines
        .by_ref()
        .find(|line| line.trim().eq_ignore_ascii_case("deployment:"))?;
    let mut body = Vec::new();
    for line in lines {
        if HEADER.is_match(line) || TRAILER.is_match(line) {
            break;
        }
        body.push(line.trim_end());
    }
    let first = body.iter().position(|line| !line.is_empty())?;
    let last = body.iter().rposition(|line| !line.is_empty())?;
    let body = &body[first..=last];
    let indent = body
        .iter()
        .filter(|line| !line.is_empty())
        .map(|line| line.len() - line.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let text: Vec<&str> = body
        .iter()
        // Blank lines are shorter than `indent`; the rest start with it, in
        // ASCII blanks, so the cut is on a character boundary.
        .map(|line| line.get(indent..).unwrap_or(""))
        .collect();
    Some(text.join("\n"))
}

/// Whether `note` speaks of a schema change.
pub fn mentions_schema(note: &str) -> bool {
    SCHEMA.is_match(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_002_section_is_found_whole() {
        let message = "New foobar magic.\n\nDeployment:\n\n- This version has schema changes - run ddgc_db_autoupgrade.pl\n- New dependency - Foo::Bar::Magic\n\nSigned-off-by: J <j@x>\n";
        let section = deployment(message).unwrap();
        assert_eq!(
            section,
            "- This version has schema changes - run ddgc_db_autoupgrade.pl\n- New dependency - Foo::Bar::Magic"
        );
        assert!(mentions_schema(&section));
        assert!(!mentions_schema("- New dependency - Foo::Bar::Magic"));
    }

    /// An indented two-line section came out with its first line dedented
    /// and its second still indented: the note's own layout was changed.
    #[test]
    fn indented_section_was_reindented() {
        let message = "x\n\nDeployment:\n  push new AceDB first\n    (it takes an hour)\n  then send release email\n";
        assert_eq!(
            deployment(message).unwrap(),
            "push new AceDB first\n  (it takes an hour)\nthen send release email"
        );
    }

    #[test]
    fn no_header_no_section_and_the_next_header_ends_it() {
        assert_eq!(deployment("Fix typo\n\nDeploy later."), None);
        let message = "x\n\nDeployment:\n- restart workers\nTesting:\n- none\n";
        assert_eq!(deployment(message).unwrap(), "- restart workers");
    }
}
