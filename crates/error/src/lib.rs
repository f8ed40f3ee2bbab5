//! What every hoist error can say beyond its message: a stable `kind` for
//! scripts and an optional `hint`, the command that gets out of it.
//!
//! Each library crate keeps its own error type (thiserror, carrying data)
//! and implements [`Described`] for it; the binary renders errors in one
//! place, finding the innermost described error of a chain for its kind and
//! hint. The crate has no dependencies so every library can take it.
//!
//! ```
//! use hoist_error::Described;
//!
//! #[derive(Debug)]
//! struct Locked;
//! impl std::fmt::Display for Locked {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         f.write_str("the site is locked")
//!     }
//! }
//! impl std::error::Error for Locked {}
//! impl Described for Locked {
//!     fn kind(&self) -> &'static str {
//!         "lock-held"
//!     }
//!     fn hint(&self) -> Option<String> {
//!         Some("hoist unlock --reason ...".to_owned())
//!     }
//! }
//! assert_eq!(Locked.kind(), "lock-held");
//! ```

/// A hoist error's kind and hint.
///
/// Messages are for people and may change; `kind` is kebab-case and stable
/// (`verify-failed`, `lock-held`, `config-invalid`), so scripts can match it.
pub trait Described: std::error::Error {
    /// The stable, kebab-case name of what went wrong.
    fn kind(&self) -> &'static str;

    /// The command (or short instruction) that gets out of it, if there is one.
    fn hint(&self) -> Option<String> {
        None
    }
}

/// `hoist ` followed by `args`: hints are commands, spelled one way.
pub fn command(args: &str) -> Option<String> {
    Some(format!("hoist {args}"))
}

/// The kind of an I/O failure on a named path: `not-found`,
/// `permission-denied`, `no-space`, else `io`.
pub fn io_kind(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::NotFound => "not-found",
        std::io::ErrorKind::PermissionDenied => "permission-denied",
        std::io::ErrorKind::StorageFull => "no-space",
        _ => "io",
    }
}
