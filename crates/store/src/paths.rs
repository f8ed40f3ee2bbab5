//! Lexical path safety: nothing in an artifact may name a place outside its release.

use std::path::{Component, Path};

/// Why a path is refused, phrased to follow the entry's name.
pub(crate) fn check_relative(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("has an empty path");
    }
    if path.starts_with('/') {
        return Err("has an absolute path");
    }
    if path.contains('\0') || path.contains('\\') {
        return Err("has a path with a NUL or backslash");
    }
    for component in Path::new(path).components() {
        match component {
            Component::Normal(_) => {}
            Component::ParentDir => {
                return Err("has a `..` component that would escape the release")
            }
            Component::CurDir => return Err("has a `.` component"),
            _ => return Err("has an absolute path"),
        }
    }
    Ok(())
}

/// A symlink at `link` pointing to `target` must resolve inside the release.
pub(crate) fn check_link_target(link: &str, target: &str) -> Result<(), &'static str> {
    if target.is_empty() {
        return Err("is a symlink with an empty target");
    }
    if target.starts_with('/') {
        return Err("is a symlink to an absolute path outside the release");
    }
    // Depth of the directory holding the link, then walk the target lexically.
    let mut depth: isize = link.matches('/').count() as isize;
    for component in Path::new(target).components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return Err("is a symlink to an absolute path outside the release"),
        }
        if depth < 0 {
            return Err("is a symlink pointing outside the release");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert!(check_relative("a/b.txt").is_ok());
        assert!(check_relative("/etc/passwd").is_err());
        assert!(check_relative("a/../../x").is_err());
        assert!(check_relative("..").is_err());
        assert!(check_relative("").is_err());
    }

    #[test]
    fn link_targets() {
        assert!(check_link_target("bin/tool", "../lib/tool").is_ok());
        assert!(check_link_target("a", "b/c").is_ok());
        assert!(check_link_target("a", "../x").is_err());
        assert!(check_link_target("a/b", "../../x").is_err());
        assert!(check_link_target("a/b", "../c/../../x").is_err());
        assert!(check_link_target("a", "/etc").is_err());
    }
}
