//! How a fleet operation reports as it goes: one line (or bar) per host.

/// Receives progress; the CLI draws one bar per host on a terminal and
/// plain lines otherwise.
pub trait Progress: Send + Sync {
    /// `host` reached `step` (`connect`, `ship`, `stage`, `drain`, `switch`,
    /// `health`, `ready`, `watch`, `rollback`, `done`, `failed`).
    fn host(&self, host: &str, step: &str, detail: &str);

    /// Something about the whole operation (a wave starts, the watch ends).
    fn note(&self, text: &str);

    /// A warning that does not stop the operation.
    fn warn(&self, text: &str);
}

/// Reports nothing.
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn host(&self, _: &str, _: &str, _: &str) {}
    fn note(&self, _: &str) {}
    fn warn(&self, _: &str) {}
}
