//! The declarative migration of a switch (expand and contract on
//! PostgreSQL): which of expand, join or neither a target needs, and
//! running it as journaled steps before the target starts.
//!
//! ```text
//!  target's pending migrations      open expansion        the switch does
//!  ---------------------------      --------------        ---------------
//!  ... 0006_x.toml (last pending)   none, or 0006         Step::Expand 0006
//!  ... 0006_x.toml (last pending)   0005, no old side     Step::Complete 0005, then Step::Expand 0006
//!                                   serving here
//!  ... 0006_x.toml (last pending)   0005, old side serves refused, naming them (or `--no-contract`)
//!  none declarative, has 0005       0005                  Step::Expand: join 0005's new side
//!  none declarative, lacks 0005     0005 / none           base schema (old side)
//! ```
//!
//! Whatever it does, the target's `search_path` is written to
//! `state/db-schema/<release>` before it starts, and the agent, the
//! restart command and the hooks give its processes `HOIST_DB_SCHEMA`
//! and `PGOPTIONS` from there ([`hoist_site::db_schema`]).

mod failed;
mod recover;
mod report;
mod run;

pub(crate) use failed::failed;
pub(crate) use recover::recover;
pub use report::{ExpandAction, ExpandReport};
pub(crate) use run::{contract_first, run};

use crate::schema::Schema;
use crate::{Context, DeployError};
use hoist_db::expand::{ExpandStep, Expander, OpenExpansion};
use hoist_db::{Migration, Target};

/// The target's part in expand and contract.
#[derive(Debug, Clone)]
pub(crate) struct Expansion {
    /// The target's database and migrations.
    pub(crate) schema: Schema,
    /// What to do.
    pub(crate) action: Action,
}

/// What a switch does about expand and contract.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Expand the target's one pending declarative migration; first
    /// contract the open expansion `complete` names, when there is one.
    Expand {
        migration: Box<Migration>,
        complete: Option<String>,
    },
    /// Join the open expansion `open`'s new side: a view schema like theirs.
    Join { open: String },
    /// The plain base schema (no expansion open, or the target predates it).
    Base,
}

/// Decides the target's part: refuses a declarative migration that is
/// not the last pending one, a second one, one on SQLite, and a new
/// expansion while the open one's old side serves here (or, with
/// `no_contract`, at all).
pub(crate) fn plan(
    context: &Context,
    schema: &Schema,
    release: &str,
    no_contract: bool,
) -> Result<Option<Expansion>, DeployError> {
    let migrations = schema.migrations()?;
    let Target::Postgres(url) = &schema.target else {
        let Some(first) = migrations.iter().find(|m| m.is_declarative()) else {
            return Ok(None);
        };
        return Err(DeployError::DeclarativeNeedsPostgres {
            file: first.path.clone(),
            database: schema.redacted(),
        });
    };
    let status = {
        let mut driver = schema.target.open()?;
        hoist_db::status(driver.as_mut(), &migrations)?
    };
    let declarative: Vec<&Migration> = status
        .pending
        .iter()
        .filter_map(|pending| migrations.iter().find(|m| m.version == pending.version))
        .filter(|migration| migration.is_declarative())
        .collect();
    if declarative.len() > 1 {
        return Err(DeployError::DeclarativeTwice {
            names: declarative.iter().map(|m| m.name.clone()).collect(),
        });
    }
    let open = Expander::connect(url, schema.expand.clone())?
        .status()?
        .open;
    let action = match (declarative.first(), open) {
        (Some(next), open) => {
            let after: Vec<String> = status
                .pending
                .iter()
                .filter(|pending| pending.version > next.version)
                .map(|pending| pending.name.clone())
                .collect();
            if !after.is_empty() {
                return Err(DeployError::DeclarativeNotLast {
                    declarative: next.name.clone(),
                    after,
                });
            }
            let complete = match open {
                Some(open) if open.version != next.version => {
                    refuse_unless_contractable(context, &open, next, release, no_contract)?;
                    Some(open.name)
                }
                _ => None,
            };
            Action::Expand {
                migration: Box::new((*next).clone()),
                complete,
            }
        }
        // By name: another migration with the open one's number is not it.
        (None, Some(open)) => match migrations
            .iter()
            .find(|m| m.version == open.version && m.name == open.name)
        {
            // Stopped half-way (a crash, or a failed deploy): finish it first.
            Some(own) if open.step < ExpandStep::Expanded && own.is_declarative() => {
                Action::Expand {
                    migration: Box::new(own.clone()),
                    complete: None,
                }
            }
            Some(_) => Action::Join { open: open.name },
            None => Action::Base,
        },
        (None, _) => Action::Base,
    };
    Ok(Some(Expansion {
        schema: schema.clone(),
        action,
    }))
}

/// A new expansion needs the open one contracted: only when no release
/// on its old side serves on this host, and the deploy may contract.
fn refuse_unless_contractable(
    context: &Context,
    open: &OpenExpansion,
    next: &Migration,
    release: &str,
    no_contract: bool,
) -> Result<(), DeployError> {
    let refuse = |serving: Vec<String>| DeployError::ExpansionOpen {
        open: open.name.clone(),
        next: next.name.clone(),
        target: release.to_owned(),
        serving,
    };
    if no_contract {
        return Err(refuse(Vec::new()));
    }
    let old_side = old_side_serving(context, open)?;
    if !old_side.is_empty() {
        return Err(refuse(old_side));
    }
    Ok(())
}

/// The releases serving on this host that are on `open`'s old side
/// (they read the old shape): the agent's live, warm and held ones, or
/// without an agent the one `current` names.
fn old_side_serving(context: &Context, open: &OpenExpansion) -> Result<Vec<String>, DeployError> {
    let running = crate::contract::running(context)?;
    Ok(crate::contract::sides(open, running)
        .into_iter()
        .filter(|serving| serving.side == crate::contract::Side::Old)
        .map(|serving| serving.running.release)
        .collect())
}

impl Expansion {
    /// The declarative migration's version, when the switch expands one:
    /// the classic `pre` migrations stop below it.
    pub(crate) fn version(&self) -> Option<u64> {
        match &self.action {
            Action::Expand { migration, .. } => Some(migration.version),
            Action::Join { .. } | Action::Base => None,
        }
    }
}
