//! Request paths in one normal form before any rule looks at them, so that
//! `/%70erl/admin`, `//perl/admin` and `/x/../perl/admin` are all
//! `/perl/admin` to maintenance, steering, routing and the app alike
//! (RFC 3986 §6.2.2, as nginx does before `location` matching).
//!
//! - `%XX` of an unreserved character (ALPHA / DIGIT / `-._~`) is decoded;
//!   every other `%XX` keeps its escape, in upper case.
//! - `//` collapses to `/`; `.` and `..` segments are resolved (§5.2.4).
//! - What cannot be normalised is refused: a `%` without two hex digits,
//!   `%00`, and `..` above the root.
//!
//! Escaped slashes (`%2F`) stay escaped in what the app gets, since decoding
//! them changes which resource is named; rules match [`match_form`], where
//! they are slashes, so they cannot be used to slip past a rule either.
//!
//! ```text
//! /%70erl/./a//b/../c  ->  /perl/a/c
//! /a%2fb               ->  /a%2Fb      (matched as /a/b)
//! /../etc              ->  refused
//! ```

use std::borrow::Cow;

/// Why a path has no normal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadPath {
    /// A `%` not followed by two hex digits.
    Escape,
    /// `%00`: no app expects a NUL in a path.
    Nul,
    /// `..` climbing above `/`.
    AboveRoot,
}

impl BadPath {
    /// What the client is told.
    pub(crate) fn why(self) -> &'static str {
        match self {
            BadPath::Escape => "The request path has a broken %-escape.",
            BadPath::Nul => "The request path contains %00.",
            BadPath::AboveRoot => "The request path climbs above the root with `..`.",
        }
    }
}

/// What [`normalise`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Normal {
    /// The normal form, or `None` when the path is normal already.
    pub(crate) path: Option<String>,
    /// The path has a `%2F`: rules must match its [`match_form`].
    pub(crate) escaped_slash: bool,
}

/// Whether `path` is normal at a glance: it starts with `/` and has no
/// `%`, `//` or `/.` anywhere. Most paths are; the rest go to [`normalise`].
#[inline]
pub(crate) fn is_plain(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.first() == Some(&b'/')
        && !bytes
            .windows(2)
            .any(|pair| pair[0] == b'%' || (pair[0] == b'/' && matches!(pair[1], b'/' | b'.')))
        && bytes.last() != Some(&b'%')
}

/// The normal form of `path` (which starts with `/`): the common case, a
/// path that is normal already, costs one scan and no allocation.
pub(crate) fn normalise(path: &str) -> Result<Normal, BadPath> {
    let (normal, escaped_slash) = scan(path.as_bytes())?;
    if normal {
        return Ok(Normal {
            path: None,
            escaped_slash,
        });
    }
    let decoded = decode_unreserved(path.as_bytes())?;
    Ok(Normal {
        path: Some(remove_dot_segments(&decoded)?),
        escaped_slash,
    })
}

/// The form rules match a normal `path` against: with `%2F` as `/` (and
/// normalised again, since that can make new `//` and `..` segments).
pub(crate) fn match_form(path: &str) -> Result<Cow<'_, str>, BadPath> {
    if !path.contains("%2F") {
        return Ok(Cow::Borrowed(path));
    }
    let slashed = path.replace("%2F", "/");
    Ok(match normalise(&slashed)?.path {
        Some(normal) => Cow::Owned(normal),
        None => Cow::Owned(slashed),
    })
}

/// Whether `path` needs no change, and whether it escapes a slash; refuses
/// escapes that are broken whatever is done to them.
fn scan(path: &[u8]) -> Result<(bool, bool), BadPath> {
    let mut normal = path.first() == Some(&b'/');
    let mut escaped_slash = false;
    let mut index = 0;
    while index < path.len() {
        match path[index] {
            b'%' => {
                let byte = escaped(path, index)?;
                escaped_slash |= byte == b'/';
                // Lower-case hex or an unreserved character: not normal.
                normal &= !is_unreserved(byte)
                    && !path[index + 1..index + 3]
                        .iter()
                        .any(u8::is_ascii_lowercase);
                index += 3;
                continue;
            }
            b'/' => {
                // `//`, `/.` followed by `/` or the end, `/..` likewise.
                let rest = &path[index + 1..];
                let dots = rest.iter().take_while(|byte| **byte == b'.').count();
                let segment_end = rest.get(dots).is_none_or(|byte| *byte == b'/');
                if rest.first() == Some(&b'/') || (matches!(dots, 1 | 2) && segment_end) {
                    normal = false;
                }
            }
            _ => {}
        }
        index += 1;
    }
    Ok((normal, escaped_slash))
}

/// The byte escaped by the `%` at `at`.
fn escaped(path: &[u8], at: usize) -> Result<u8, BadPath> {
    let hex = |byte: Option<&u8>| byte.and_then(|byte| (*byte as char).to_digit(16));
    let (Some(high), Some(low)) = (hex(path.get(at + 1)), hex(path.get(at + 2))) else {
        return Err(BadPath::Escape);
    };
    match (high * 16 + low) as u8 {
        0 => Err(BadPath::Nul),
        byte => Ok(byte),
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// `path` with unreserved escapes decoded and the others in upper case.
fn decode_unreserved(path: &[u8]) -> Result<String, BadPath> {
    let mut out = String::with_capacity(path.len() + 1);
    if path.first() != Some(&b'/') {
        out.push('/');
    }
    let mut index = 0;
    while index < path.len() {
        let byte = path[index];
        if byte != b'%' {
            // The path came from a `str` and only ASCII is changed.
            out.push(byte as char);
            index += 1;
            continue;
        }
        let decoded = escaped(path, index)?;
        if is_unreserved(decoded) {
            out.push(decoded as char);
        } else {
            out.push('%');
            out.push((path[index + 1] as char).to_ascii_uppercase());
            out.push((path[index + 2] as char).to_ascii_uppercase());
        }
        index += 3;
    }
    Ok(out)
}

/// RFC 3986 §5.2.4 over segments, with empty segments dropped (`//`) and a
/// `..` above the root refused rather than ignored.
fn remove_dot_segments(path: &str) -> Result<String, BadPath> {
    let mut kept: Vec<&str> = Vec::new();
    let mut segments = path.split('/').skip(1).peekable();
    let mut trailing_slash = false;
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "" | "." => trailing_slash = last,
            ".." => {
                kept.pop().ok_or(BadPath::AboveRoot)?;
                trailing_slash = last;
            }
            segment => {
                kept.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &kept {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || kept.is_empty() {
        out.push('/');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(path: &str) -> Result<String, BadPath> {
        normalise(path).map(|normal| normal.path.unwrap_or_else(|| path.to_owned()))
    }

    #[test]
    fn normal_paths_are_left_alone_without_allocating() {
        for path in [
            "/",
            "/perl/admin",
            "/a/b/",
            "/a%2Fb",
            "/caf%C3%A9",
            "/.well-known/x",
            "/a/..b/c.",
            "/a/...",
        ] {
            assert_eq!(normalise(path).unwrap().path, None, "{path}");
        }
    }

    #[test]
    fn plain_paths_are_told_apart_at_a_glance() {
        for path in ["/", "/a/b-c_d~e/", "/a.b/c."] {
            assert!(is_plain(path), "{path}");
        }
        for path in ["", "a", "//a", "/./a", "/a/..", "/a%2F", "%", "/%"] {
            assert!(!is_plain(path), "{path}");
        }
    }

    #[test]
    fn bypasses_of_a_path_rule_become_the_plain_path() {
        for path in [
            "/%70erl/admin",
            "//perl/admin",
            "/x/../perl/admin",
            "/./perl/admin",
            "/perl//admin",
            "/x/%2e%2E/perl/admin",
            "/perl/admin/.",
        ] {
            let expected = if path.ends_with('.') {
                "/perl/admin/"
            } else {
                "/perl/admin"
            };
            assert_eq!(normal(path).as_deref(), Ok(expected), "{path}");
        }
        assert_eq!(normal("/a/b/..").as_deref(), Ok("/a/"));
        assert_eq!(normal("/a/..").as_deref(), Ok("/"));
        assert_eq!(normal("/a%2fb%7e").as_deref(), Ok("/a%2Fb~"));
    }

    #[test]
    fn what_cannot_be_normalised_is_refused() {
        assert_eq!(normal("/a%zz"), Err(BadPath::Escape));
        assert_eq!(normal("/a%4"), Err(BadPath::Escape));
        assert_eq!(normal("/a%00b"), Err(BadPath::Nul));
        assert_eq!(normal("/../etc"), Err(BadPath::AboveRoot));
        assert_eq!(normal("/a/../../etc"), Err(BadPath::AboveRoot));
    }

    #[test]
    fn rules_see_escaped_slashes_as_slashes() {
        assert_eq!(match_form("/perl%2Fadmin").unwrap(), "/perl/admin");
        assert_eq!(match_form("/%2Fperl/admin").unwrap(), "/perl/admin");
        assert_eq!(match_form("/x/..%2Fperl").unwrap(), "/perl");
        assert_eq!(match_form("/plain").unwrap(), "/plain");
        assert!(normalise("/a%2fb").unwrap().escaped_slash);
        assert!(!normalise("/a/b").unwrap().escaped_slash);
        assert_eq!(match_form("/..%2F..%2Fx"), Err(BadPath::AboveRoot));
    }
}
