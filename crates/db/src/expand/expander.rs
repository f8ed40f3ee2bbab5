//! [`Expander`]: expand, join, complete, abort and status on one database.

use super::types::{ExpandEvent, ExpandOptions, ExpandStatus, Expanded, Finished};
use crate::{DbError, Migration};

/// A connection to the database that runs expand and contract.
pub struct Expander {
    #[allow(dead_code)]
    url: String,
    #[allow(dead_code)]
    options: ExpandOptions,
}

impl Expander {
    /// Connects to `url` (`postgres://…`).
    pub fn connect(url: &str, options: ExpandOptions) -> Result<Expander, DbError> {
        let _ = (url, options);
        todo!("issue 17 engine")
    }

    /// The open expansion and the view schemas.
    pub fn status(&mut self) -> Result<ExpandStatus, DbError> {
        todo!("issue 17 engine")
    }

    /// Expands `migration` (a declarative one, `migration.change` is
    /// `Some`) so `release` runs on its new shape through its own view
    /// schema. Idempotent: when this expansion is open already (after a
    /// crash, or another host of a fleet got here first) it resumes where
    /// it stopped, or only adds `release` to the new side. Refused when a
    /// different expansion is open.
    pub fn expand(
        &mut self,
        migration: &Migration,
        release: &str,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Expanded, DbError> {
        let _ = (migration, release, events);
        todo!("issue 17 engine")
    }

    /// `release`, whose migrations end with the open expansion's, joins its
    /// new side: it gets a view schema like the others. `None` when no
    /// expansion is open (the release uses the base schema).
    pub fn join(&mut self, release: &str) -> Result<Option<String>, DbError> {
        let _ = release;
        todo!("issue 17 engine")
    }

    /// Contracts the open expansion: drops the old columns, the triggers
    /// and every view schema, renames the new columns into place. The
    /// caller has made sure no release on the old side still serves.
    /// Idempotent after a crash.
    pub fn complete(
        &mut self,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Finished, DbError> {
        let _ = events;
        todo!("issue 17 engine")
    }

    /// Removes the open expansion: new columns, triggers, indexes,
    /// constraints, view schemas, `sql` downs, and its history row. The
    /// caller has made sure no release on the new side still serves.
    /// Idempotent after a crash.
    pub fn abort(&mut self, events: &mut dyn FnMut(ExpandEvent<'_>)) -> Result<Finished, DbError> {
        let _ = events;
        todo!("issue 17 engine")
    }
}
