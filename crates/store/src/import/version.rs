//! The name and version a foreign tarball carries: `DDGC-0.940/` as its top
//! directory, `shop-1.2.3.tgz` as its file name, or a `version` in its
//! `META.json` (CPAN) or `package.json` (npm).

use std::path::Path;

/// What could be read from the tarball; either may be missing.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Guessed {
    pub(super) name: Option<String>,
    pub(super) version: Option<String>,
    /// Where they were read, for a message about a version that cannot be used.
    pub(super) origin: &'static str,
}

/// Tries the top directory, then the file name, then the metadata files.
pub(super) fn guess(tarball: &Path, top: Option<&str>, tree: &Path) -> Guessed {
    let file_name = tarball
        .file_name()
        .and_then(|name| name.to_str())
        .map(strip_extension);
    let from_names = top
        .and_then(split_name_version)
        .map(|found| (found, "the tarball's top directory"))
        .or_else(|| {
            file_name
                .and_then(split_name_version)
                .map(|found| (found, "the tarball's file name"))
        });
    if let Some(((name, version), origin)) = from_names {
        return Guessed {
            name: Some(name.to_owned()),
            version: Some(version.to_owned()),
            origin,
        };
    }
    ["META.json", "package.json"]
        .iter()
        .find_map(|meta| from_metadata(&tree.join(meta), meta))
        .unwrap_or_default()
}

fn strip_extension(name: &str) -> &str {
    [".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2", ".tar"]
        .iter()
        .find_map(|extension| name.strip_suffix(extension))
        .unwrap_or(name)
}

/// `DDGC-0.940` -> (`DDGC`, `0.940`): the version starts after the last
/// `-` that is followed by a digit.
fn split_name_version(text: &str) -> Option<(&str, &str)> {
    let at = text
        .char_indices()
        .rev()
        .find(|&(at, c)| c == '-' && text[at + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map(|(at, _)| at)?;
    let (name, version) = (&text[..at], &text[at + 1..]);
    (!name.is_empty()).then_some((name, version))
}

fn from_metadata(path: &Path, origin: &'static str) -> Option<Guessed> {
    let text = std::fs::read(path).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let field = |key: &str| json.get(key)?.as_str().map(str::to_owned);
    let version = field("version")?;
    Some(Guessed {
        // npm scopes (`@org/app`) are not file-name safe; the part after `/` is.
        name: field("name").map(|name| name.rsplit('/').next().unwrap_or(&name).to_owned()),
        version: Some(version),
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert_eq!(split_name_version("DDGC-0.940"), Some(("DDGC", "0.940")));
        assert_eq!(
            split_name_version("my-app-2.0.1"),
            Some(("my-app", "2.0.1"))
        );
        assert_eq!(split_name_version("package"), None);
        assert_eq!(strip_extension("shop-1.2.3.tgz"), "shop-1.2.3");
        let guessed = guess(
            Path::new("/x/DDGC-0.940.tar.gz"),
            None,
            Path::new("/nonexistent"),
        );
        assert_eq!(guessed.version.as_deref(), Some("0.940"));
    }
}
