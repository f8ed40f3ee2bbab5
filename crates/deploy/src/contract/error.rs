//! Why `hoist db complete` or `hoist db abort` did not go through.

/// A contract or an abort refused, or impossible here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// A release on the old side still serves: the contract drops what it reads.
    #[error("cannot complete `{migration}`: {} still {} on the old shape, which the contract drops", serving.join(", "), runs(serving))]
    OldSideServes {
        /// The open expansion.
        migration: String,
        /// The old-side releases, as [`crate::Serving::describe`] says them.
        serving: Vec<String>,
        /// The way out.
        fix: String,
    },
    /// A release on the new side still serves: the abort drops what it reads.
    #[error("cannot abort `{migration}`: {} still {} on its new shape, which the abort drops", serving.join(", "), runs(serving))]
    NewSideServes {
        /// The open expansion.
        migration: String,
        /// The new-side releases.
        serving: Vec<String>,
        /// The way out.
        fix: String,
    },
    /// Expand and contract are PostgreSQL's; the site's database is not.
    #[error("`{database}` is not PostgreSQL; expand and contract (`hoist db complete`, `hoist db abort`) work on PostgreSQL only, and SQLite keeps its plain migrations")]
    NotPostgres {
        /// The database.
        database: String,
    },
    /// The agent runs but did not say what it serves.
    #[error("the agent did not say which releases it runs ({problem}), so nothing was changed")]
    AgentUnanswered {
        /// What went wrong.
        problem: String,
    },
    /// No database to recover the interrupted operation against.
    #[error("the interrupted `{op}` cannot be finished: no `[database]` found for `{release}` nor in the site's `site.toml`; add the site's `[database]` to `site.toml`, then run `hoist recover` again")]
    NoDatabase {
        /// The operation.
        op: String,
        /// The release it looked in.
        release: String,
    },
}

fn runs(serving: &[String]) -> &'static str {
    if serving.len() == 1 {
        "runs"
    } else {
        "run"
    }
}

impl hoist_error::Described for ContractError {
    fn kind(&self) -> &'static str {
        match self {
            ContractError::OldSideServes { .. } => "contract-refused",
            ContractError::NewSideServes { .. } => "abort-refused",
            ContractError::NotPostgres { .. } => "not-postgres",
            ContractError::AgentUnanswered { .. } => "agent-unreachable",
            ContractError::NoDatabase { .. } => "no-database",
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ContractError::OldSideServes { fix, .. } | ContractError::NewSideServes { fix, .. } => {
                Some(fix.clone())
            }
            ContractError::AgentUnanswered { .. } => hoist_error::command("status"),
            ContractError::NotPostgres { .. } | ContractError::NoDatabase { .. } => None,
        }
    }
}
