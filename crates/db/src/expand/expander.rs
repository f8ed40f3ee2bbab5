//! [`Expander`]: expand, join, complete, abort and status on one database.

use super::ddl::Ddl;
use super::names::view_schema;
use super::state::{self, State};
use super::steps::Run;
use super::types::{
    ExpandEvent, ExpandOptions, ExpandStatus, ExpandStep, Expanded, Finished, OpenExpansion,
    ViewSchema,
};
use super::{catalog, sqltext::quote};
use crate::{DbError, Driver, Migration, Postgres};
use postgres::{Client, NoTls};
use std::time::Duration;

/// The `application_name` of the expander's session, so it can be told
/// apart in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "hoist-expand";

/// A connection to the database that runs expand and contract. Its
/// session is on the old side (`search_path` is the base schema), so the
/// backfill computes new values the way an old-side write does.
pub struct Expander {
    url: String,
    options: ExpandOptions,
    client: Client,
    database: String,
}

impl std::fmt::Debug for Expander {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expander")
            .field("database", &self.database)
            .finish()
    }
}

impl Expander {
    /// Connects to `url` (`postgres://…`).
    pub fn connect(url: &str, options: ExpandOptions) -> Result<Expander, DbError> {
        let database = crate::redact(url);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(DbError::BadUrl {
                url: database.clone(),
            });
        }
        let failed = |error: postgres::Error| DbError::Database {
            database: database.clone(),
            message: super::ddl::message(&error),
        };
        let mut config: postgres::Config = url.parse().map_err(failed)?;
        config.application_name(APPLICATION_NAME);
        let mut client = config.connect(NoTls).map_err(failed)?;
        let timeout = options.lock_timeout.as_millis().max(1);
        client
            .batch_execute(&format!(
                "SET lock_timeout = {timeout}; SET search_path TO {}",
                quote(&options.base_schema)
            ))
            .map_err(failed)?;
        Ok(Expander {
            url: url.to_owned(),
            options,
            client,
            database,
        })
    }

    /// The migrators' advisory lock, held until the returned value drops;
    /// waits [`ExpandOptions::lock_wait`] for another migrator, then fails
    /// naming it ([`DbError::Locked`]). Then ends what a killed expander
    /// left running (`orphans.rs`).
    fn lock(&mut self) -> Result<Postgres, DbError> {
        let mut lock = Postgres::connect(&self.url)?;
        lock.lock(self.options.lock_wait)?;
        super::orphans::end(&mut self.client, APPLICATION_NAME, self.options.lock_wait).map_err(
            |e| DbError::Database {
                database: self.database.clone(),
                message: super::ddl::message(&e),
            },
        )?;
        // Creates the history table if this is the database's first migration.
        lock.applied()?;
        Ok(lock)
    }

    fn read(&mut self) -> Result<Option<State>, DbError> {
        let database = self.database.clone();
        let read = state::read(&mut self.client, &self.options.base_schema).map_err(|e| {
            DbError::Database {
                database: database.clone(),
                message: super::ddl::message(&e),
            }
        })?;
        read.map_err(|problem| DbError::Database {
            database,
            message: format!("cannot read the open expansion (`{}`): {problem}; it was probably written by a newer hoist: run that one (`hoist db status`, `complete` or `abort`)", state::STATE_TABLE),
        })
    }

    fn run(&mut self, migration: &str) -> Run<'_> {
        Run {
            ddl: Ddl {
                client: &mut self.client,
                database: self.database.clone(),
                migration: migration.to_owned(),
                retries: self.options.retries,
                pause: self.options.lock_timeout.min(Duration::from_millis(200)),
                retried: 0,
            },
            options: self.options.clone(),
            longest: Duration::ZERO,
        }
    }

    /// The open expansion and the view schemas.
    pub fn status(&mut self) -> Result<ExpandStatus, DbError> {
        let base = self.options.base_schema.clone();
        let database = self.database.clone();
        let (faults, fault_rows) =
            super::faults::read(&mut self.client, &base).map_err(|e| DbError::Database {
                database,
                message: super::ddl::message(&e),
            })?;
        let fault_rows = fault_rows.iter().map(|f| f.describe()).collect();
        let open = self.read()?.map(|state| OpenExpansion {
            version: state.version,
            name: state.name,
            no_down: super::abort::missing_down(&state.change),
            description: state.change.description,
            step: state.step,
            new_releases: state.new_releases,
            started_at: state.started_at,
            started_by: state.started_by,
            backfill: state.backfill.iter().map(|c| c.public()).collect(),
            failed: state.failed,
            faults,
            fault_rows,
        });
        let database = self.database.clone();
        let view_schemas = catalog::view_schemas(&mut self.client)
            .map_err(|e| DbError::Database {
                database,
                message: super::ddl::message(&e),
            })?
            .into_iter()
            .map(|(schema, release)| ViewSchema { schema, release })
            .collect();
        Ok(ExpandStatus { open, view_schemas })
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
        let change = migration
            .change
            .as_ref()
            .ok_or_else(|| DbError::BadMigration {
                path: migration.path.clone(),
                problem: "is not a declarative (`.toml`) migration, so it cannot be expanded"
                    .into(),
            })?;
        let mut lock = self.lock()?;
        let history = lock.applied()?;
        let open = self.read()?;
        let database = self.database.clone();
        let mut run = self.run(&migration.name);
        let (mut state, resumed) = match open {
            Some(state) if state.version != migration.version => {
                return Err(DbError::ExpansionOpen {
                    database,
                    open: state.name,
                    wanted: migration.name.clone(),
                })
            }
            Some(state) if state.checksum != migration.checksum && state.name != migration.name => {
                return Err(DbError::NumberTaken {
                    file: migration.path.display().to_string(),
                    database,
                    version: migration.version,
                    applied: state.name,
                    here: migration.name.clone(),
                })
            }
            Some(state) if state.checksum != migration.checksum => {
                return Err(DbError::Drift {
                    file: migration.path.display().to_string(),
                    database,
                    applied: state.checksum,
                    now: migration.checksum.clone(),
                })
            }
            Some(state) => (state, true),
            None => {
                if let Some(row) = history.iter().find(|row| row.version == migration.version) {
                    if row.name != migration.name {
                        return Err(DbError::NumberTaken {
                            file: migration.path.display().to_string(),
                            database,
                            version: migration.version,
                            applied: row.name.clone(),
                            here: migration.name.clone(),
                        });
                    }
                    return Err(DbError::AlreadyExpanded {
                        database,
                        migration: migration.name.clone(),
                        phase: row.phase.clone(),
                    });
                }
                (run.begin(migration, change, release, events)?, false)
            }
        };
        let longest = add_release(&mut run, &mut state, release, events)?;
        Ok(Expanded {
            version: state.version,
            name: state.name.clone(),
            schema: view_schema(release),
            resumed,
            backfill: state.backfill.iter().map(|c| c.public()).collect(),
            longest_batch_ms: longest.as_millis() as u64,
            retries: run.ddl.retried,
        })
    }

    /// `release`, whose migrations end with the open expansion's, joins its
    /// new side: it gets a view schema like the others. `None` when no
    /// expansion is open (the release uses the base schema). An expansion
    /// a crash left half done is finished first.
    pub fn join(&mut self, release: &str) -> Result<Option<String>, DbError> {
        let _lock = self.lock()?;
        let Some(mut state) = self.read()? else {
            return Ok(None);
        };
        let mut run = self.run(&state.name);
        add_release(&mut run, &mut state, release, &mut |_| {})?;
        Ok(Some(view_schema(release)))
    }

    /// Contracts the open expansion: drops the old columns, the triggers
    /// and every view schema, renames the new columns into place. The
    /// caller has made sure no release on the old side still serves.
    /// Idempotent after a crash: a contract that committed leaves no
    /// expansion open, and running it again is [`DbError::NoExpansion`].
    pub fn complete(
        &mut self,
        events: &mut dyn FnMut(ExpandEvent<'_>),
    ) -> Result<Finished, DbError> {
        let _lock = self.lock()?;
        let state = self.open()?;
        if state.step < ExpandStep::Expanded || state.step == ExpandStep::Aborting {
            return Err(DbError::NotExpanded {
                database: self.database.clone(),
                migration: state.name,
                step: state.step.as_str(),
                failed: state.failed,
            });
        }
        self.run(&state.name).complete(&state, events)
    }

    /// Removes the open expansion: new columns, triggers, indexes,
    /// constraints, view schemas, `sql` downs, and its history row. The
    /// caller has made sure no release on the new side still serves.
    /// Idempotent after a crash (as [`Expander::complete`]).
    pub fn abort(&mut self, events: &mut dyn FnMut(ExpandEvent<'_>)) -> Result<Finished, DbError> {
        let _lock = self.lock()?;
        let state = self.open()?;
        self.run(&state.name).abort(&state, events)
    }

    fn open(&mut self) -> Result<State, DbError> {
        self.read()?.ok_or_else(|| DbError::NoExpansion {
            database: self.database.clone(),
        })
    }
}

/// Puts `release` on the new side and runs the expansion to its end
/// (resuming it if a crash left it half done); returns the longest
/// backfill batch.
fn add_release(
    run: &mut Run<'_>,
    state: &mut State,
    release: &str,
    events: &mut dyn FnMut(ExpandEvent<'_>),
) -> Result<Duration, DbError> {
    if matches!(state.step, ExpandStep::Completing | ExpandStep::Aborting) {
        return Err(DbError::Finishing {
            database: run.ddl.database.clone(),
            migration: state.name.clone(),
            step: state.step.as_str(),
        });
    }
    let joining = !state.new_releases.iter().any(|r| r == release);
    if joining {
        state.new_releases.push(release.to_owned());
    }
    if state.step == ExpandStep::Expanded {
        if joining {
            let releases = [release.to_owned()];
            run.views(state, &releases, events)?;
        }
        return Ok(run.longest);
    }
    if joining {
        let base = run.options.base_schema.clone();
        let releases = state.new_releases.clone();
        run.ddl.tx(state.step, "add the release", events, |tx| {
            state::set_releases(tx, &base, &releases)
        })?;
    }
    run.expand(state, events)?;
    Ok(run.longest)
}
