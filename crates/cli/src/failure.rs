//! Errors the binary itself raises (no site root, no agent, a file already
//! there): typed like the libraries' own, so they carry a stable `kind` and
//! the command that gets out of them as `hint`, instead of `error` and none.

use hoist_error::Described;

/// A failure found by the command line, with its kind and way out.
#[derive(Debug)]
pub struct Failure {
    kind: &'static str,
    message: String,
    hint: Option<String>,
}

impl Failure {
    /// `message` (what is wrong, where), of kind `kind`.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    /// The command that gets out of it (the message does not repeat it).
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// "no agent answers on `SOCKET`", with the way to start one.
    pub fn no_agent(socket: &std::path::Path) -> Failure {
        Failure::new(
            "agent-unreachable",
            format!("no agent answers on `{}`", socket.display()),
        )
        .hint("hoist agent (or `systemctl start` the unit that runs it)")
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl Described for Failure {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}
