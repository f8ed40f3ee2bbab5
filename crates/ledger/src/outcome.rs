//! How an operation ended, as the ledger stores it.

use serde::{Deserialize, Serialize};

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It did what was asked.
    Ok,
    /// It failed before changing what is live.
    Failed,
    /// It switched, failed its restart or health check, and switched back.
    RolledBack,
    /// It was killed and `recover` cleaned up after it.
    Interrupted,
    /// Nothing needed doing (e.g. deploying the live release).
    Noop,
    /// hoist declined before changing anything (a rollback to a release
    /// that fails `verify`, nothing to roll back to, a lock held, an
    /// interrupted operation pending); the detail says why.
    Refused,
}

impl Outcome {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled-back",
            Outcome::Interrupted => "interrupted",
            Outcome::Noop => "noop",
            Outcome::Refused => "refused",
        }
    }

    pub(crate) fn parse(text: &str) -> Outcome {
        match text {
            "ok" => Outcome::Ok,
            "rolled-back" => Outcome::RolledBack,
            "interrupted" => Outcome::Interrupted,
            "noop" => Outcome::Noop,
            "refused" => Outcome::Refused,
            _ => Outcome::Failed,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
