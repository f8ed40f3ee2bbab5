//! The files hoist keeps inside a release next to its manifest, and how to
//! tell them from the release's own.
//!
//! | file | written | says |
//! |---|---|---|
//! | [`MANIFEST_NAME`] | at unpack | what was built (the artifact's own manifest) |
//! | [`GENERATED_NAME`] | before seal | what the release's `checks` and `test` wrote ([`crate::Generated`]) |
//! | [`STAMPS_NAME`] | before seal | each shipped file's inode, size, mtime and ctime ([`crate::Stamps`]) |
//!
//! None of them is ever part of an artifact: `pack` skips them and an
//! artifact naming one is refused.

use crate::MANIFEST_NAME;

/// What the release's own checks and tests wrote into it before it was sealed.
pub const GENERATED_NAME: &str = ".hoist-generated.json";

/// The stat record of every shipped file, taken when the release was sealed.
pub const STAMPS_NAME: &str = ".hoist-stamps.json";

/// Whether `path` (relative to a release) is one of hoist's own files there,
/// or a temp file of one being written.
pub fn is_metadata(path: &str) -> bool {
    [MANIFEST_NAME, GENERATED_NAME, STAMPS_NAME]
        .iter()
        .any(|name| path == *name || (path.starts_with(&format!(".{name}.tmp-"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_and_their_temp_files_are_recognised() {
        assert!(is_metadata(MANIFEST_NAME));
        assert!(is_metadata(GENERATED_NAME));
        assert!(is_metadata(&format!(".{STAMPS_NAME}.tmp-42")));
        assert!(!is_metadata("lib/.hoist-stamps.json"));
        assert!(!is_metadata("index.html"));
    }
}
