//! Which data version went live with which release: a switch event notes
//! the data version live when it happened, so `hoist rollback` can name
//! (and `--with-data` go back to) the data an older release ran on.
//!
//! A release is tied to the data it was *deployed* (or promoted) with: a
//! rollback onto it, on whatever data was live then, does not retie it.

use crate::{Ledger, LedgerError};
use rusqlite::{params, OptionalExtension};

/// Event kinds that move a release forward, and so tie it to the data live then.
const FORWARD: &str = "'deploy', 'promote'";
/// Event kinds that move the data pointer.
const DATA_MOVES: &str = "'data-roll', 'data-revert'";

impl Ledger {
    /// Notes on the recorded operation `op_id` the data version live with
    /// it. Returns false when there is no such event (its write waits in
    /// the pending file): [`Ledger::data_with`] then falls back on history.
    pub fn note_data_version(&self, op_id: &str, version: &str) -> Result<bool, LedgerError> {
        self.conn
            .execute(
                "UPDATE events SET data_version = ?2 WHERE op_id = ?1",
                params![op_id, version],
            )
            .map(|changed| changed > 0)
            .map_err(self.wrap())
    }

    /// The data version live when `release` was last deployed or promoted:
    /// as noted on that switch, or, for a switch recorded without one (an
    /// older ledger), the target of the last data roll or revert before it.
    pub fn data_with(&self, release: &str) -> Result<Option<String>, LedgerError> {
        let switch: Option<(i64, Option<String>)> = self
            .conn
            .query_row(
                &format!(
                    "SELECT seq, data_version FROM events
                     WHERE to_release = ?1 AND outcome = 'ok' AND op IN ({FORWARD})
                     ORDER BY seq DESC LIMIT 1"
                ),
                [release],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.wrap())?;
        let Some((seq, noted)) = switch else {
            return Ok(None);
        };
        if noted.is_some() {
            return Ok(noted);
        }
        self.conn
            .query_row(
                &format!(
                    "SELECT to_release FROM events
                     WHERE seq < ?1 AND outcome = 'ok' AND op IN ({DATA_MOVES})
                     ORDER BY seq DESC LIMIT 1"
                ),
                [seq],
                |row| row.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.wrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    fn event(op: &str, op_id: &str, to: &str) -> Event {
        Event {
            op_id: op_id.into(),
            to: Some(to.into()),
            ..Event::one_off(op, "alice".into(), "web1".into())
        }
    }

    #[test]
    fn the_noted_version_wins_and_history_answers_for_older_switches() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        assert_eq!(ledger.data_with("a").unwrap(), None);
        ledger.record(&event("data-roll", "1", "d1")).unwrap();
        // Recorded before the column existed: nothing noted.
        ledger.record(&event("deploy", "2", "a")).unwrap();
        ledger.record(&event("data-roll", "3", "d2")).unwrap();
        ledger.record(&event("deploy", "4", "b")).unwrap();
        assert!(ledger.note_data_version("4", "d2").unwrap());
        assert!(!ledger.note_data_version("missing", "d2").unwrap());
        assert_eq!(ledger.data_with("a").unwrap().as_deref(), Some("d1"));
        assert_eq!(ledger.data_with("b").unwrap().as_deref(), Some("d2"));
        // A rollback onto `a` on other data does not retie it; a new deploy does.
        ledger.record(&event("rollback", "5", "a")).unwrap();
        ledger.note_data_version("5", "d2").unwrap();
        assert_eq!(ledger.data_with("a").unwrap().as_deref(), Some("d1"));
        ledger.record(&event("deploy", "6", "a")).unwrap();
        ledger.note_data_version("6", "d2").unwrap();
        assert_eq!(ledger.data_with("a").unwrap().as_deref(), Some("d2"));
    }
}
