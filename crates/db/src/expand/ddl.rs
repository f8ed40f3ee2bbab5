//! Running an expansion's statements: each under the session's
//! `lock_timeout`, and tried again with a growing pause when it gave up
//! waiting for its lock, so a DDL never queues behind a long query with
//! the site's own queries queued behind it.

use super::types::{ExpandEvent, ExpandStep};
use crate::DbError;
use postgres::error::SqlState;
use postgres::{Client, Transaction};
use std::time::Duration;

/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// One call's connection, with what its errors must name.
pub(crate) struct Ddl<'c> {
    /// The expander's connection (old side, `lock_timeout` set).
    pub client: &'c mut Client,
    /// The database, for messages.
    pub database: String,
    /// The migration, for messages.
    pub migration: String,
    /// Attempts after the first, at most.
    pub retries: u32,
    /// The first pause; each retry waits one more of it.
    pub pause: Duration,
    /// Retries so far (reported).
    pub retried: u32,
}

impl Ddl<'_> {
    /// Runs `work` in one transaction, committed, tried again on a lock timeout.
    pub fn tx<T>(
        &mut self,
        step: ExpandStep,
        what: &str,
        events: &mut dyn FnMut(ExpandEvent<'_>),
        mut work: impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        self.retrying(step, what, events, |client| {
            let mut tx = client.transaction()?;
            let value = work(&mut tx)?;
            tx.commit()?;
            Ok(value)
        })
    }

    /// Runs `work` outside a transaction (`CREATE INDEX CONCURRENTLY`),
    /// tried again on a lock timeout.
    pub fn outside<T>(
        &mut self,
        step: ExpandStep,
        what: &str,
        events: &mut dyn FnMut(ExpandEvent<'_>),
        work: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        self.retrying(step, what, events, work)
    }

    fn retrying<T>(
        &mut self,
        step: ExpandStep,
        what: &str,
        events: &mut dyn FnMut(ExpandEvent<'_>),
        mut once: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match once(self.client) {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !retryable(&error) {
                return Err(DbError::ExpandFailed {
                    database: self.database.clone(),
                    migration: self.migration.clone(),
                    step: step.as_str(),
                    what: what.to_owned(),
                    message: message(&error),
                });
            }
            if attempt > self.retries {
                return Err(DbError::LockTimeout {
                    database: self.database.clone(),
                    migration: self.migration.clone(),
                    what: what.to_owned(),
                    attempts: attempt,
                });
            }
            self.retried += 1;
            events(ExpandEvent::Retry { what, attempt });
            // Back off: the live release's queries go first.
            std::thread::sleep((self.pause * attempt).min(MAX_PAUSE));
        }
    }

    /// An error from the database outside the retried statements.
    pub fn failed(&self, step: ExpandStep, what: &str, error: &postgres::Error) -> DbError {
        DbError::ExpandFailed {
            database: self.database.clone(),
            migration: self.migration.clone(),
            step: step.as_str(),
            what: what.to_owned(),
            message: message(error),
        }
    }
}

/// A lock wait that gave up (`lock_timeout`), or a deadlock the server
/// broke by failing us: both leave nothing done and are worth another try.
pub(crate) fn retryable(error: &postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::LOCK_NOT_AVAILABLE || *code == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// The server's own message when there is one.
pub(crate) fn message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => error.to_string(),
    }
}
