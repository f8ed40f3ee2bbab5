//! How the lifecycle tells its caller what it is doing; the CLI renders it
//! as progress bars on a terminal and plain lines otherwise.

/// Receives progress; every method has a no-op default.
pub trait Reporter {
    /// A step begins, e.g. ("unpack", "10000 files, 200 MB").
    fn step(&self, _step: &str, _detail: &str) {}
    /// Bytes handled so far out of `total` within the current step.
    fn advance(&self, _done: u64, _total: u64) {}
    /// Something the user should know that does not stop the operation.
    fn warn(&self, _message: &str) {}
}

/// Reports nothing; for tests and `--quiet`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {}
