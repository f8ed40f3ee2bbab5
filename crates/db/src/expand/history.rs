//! The declarative migration's row in `hoist_schema_history`: written
//! (phase `expand`) when the expansion begins, so the classic runner and
//! `hoist deploy` see it applied; phase `contract` after contract;
//! deleted by abort. Each change commits with the step that makes it.

use super::sqltext::quote;
use crate::driver::HISTORY_TABLE;
use crate::Migration;
use postgres::GenericClient;

/// Records `migration` as expanding.
pub(crate) fn insert(
    client: &mut impl GenericClient,
    migration: &Migration,
    who: &str,
) -> Result<(), postgres::Error> {
    client.execute(
        &format!("INSERT INTO {} (version, name, checksum, phase, applied_at, applied_by, dirty, down_sql) VALUES ($1, $2, $3, 'expand', $4, $5, false, NULL)", quote(HISTORY_TABLE)),
        &[&(migration.version as i64), &migration.name, &migration.checksum, &jiff::Timestamp::now().to_string(), &who],
    )?;
    Ok(())
}

/// Marks `version` contracted.
pub(crate) fn contracted(
    client: &mut impl GenericClient,
    version: u64,
) -> Result<(), postgres::Error> {
    client.execute(
        &format!(
            "UPDATE {} SET phase = 'contract' WHERE version = $1",
            quote(HISTORY_TABLE)
        ),
        &[&(version as i64)],
    )?;
    Ok(())
}

/// Forgets `version` (abort).
pub(crate) fn delete(client: &mut impl GenericClient, version: u64) -> Result<(), postgres::Error> {
    client.execute(
        &format!("DELETE FROM {} WHERE version = $1", quote(HISTORY_TABLE)),
        &[&(version as i64)],
    )?;
    Ok(())
}
