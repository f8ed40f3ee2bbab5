//! Lexical path safety: no entry of an artifact may be named outside its
//! release. Where its links lead is [`crate::links`]' business.

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
}
