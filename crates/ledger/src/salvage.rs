//! A damaged ledger moved aside, and what can still be read of it kept.
//!
//! SQLite reports damage page by page, so a table may read up to a bad
//! page and no further. Rows are read from both ends of each table until
//! each read fails, put back in their original order, and written into a
//! fresh ledger; the damaged file stays beside it for whoever wants to
//! look closer. Writes deferred meanwhile are replayed last.

use crate::{Event, Ledger, LedgerError, ReleaseRow};
use rusqlite::OpenFlags;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a salvage did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvaged {
    /// Where the damaged file now is.
    pub moved_to: PathBuf,
    /// Why it was judged damaged.
    pub problem: String,
    /// Events kept.
    pub events: usize,
    /// Release rows kept.
    pub releases: usize,
}

/// Checks the ledger at `path`; if it is damaged, moves it aside and
/// starts a fresh one holding every row still readable. `Ok(None)` when
/// it was intact (or absent).
pub fn salvage(path: &Path) -> Result<Option<Salvaged>, LedgerError> {
    if !path.exists() {
        return Ok(None);
    }
    let Some(problem) = damage(path) else {
        return Ok(None);
    };
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    let moved_to = path.with_file_name(format!(
        "{}.damaged-{stamp}",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let io = |source| LedgerError::NotRecorded {
        path: path.to_owned(),
        problem: format!("it is damaged ({problem}) and could not be moved aside"),
        pending: moved_to.clone(),
        cause: source,
    };
    std::fs::rename(path, &moved_to).map_err(io)?;
    let journal = path.with_file_name(format!(
        "{}-journal",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    if journal.exists() {
        let _ = std::fs::rename(&journal, format!("{}-journal", moved_to.display()));
    }
    let (events, releases) = read_what_remains(&moved_to);
    let fresh = Ledger::open_without_replay(path)?;
    let tx = fresh.conn.unchecked_transaction().map_err(fresh.wrap())?;
    for row in &releases {
        crate::releases::insert_full(&tx, row).map_err(fresh.wrap())?;
    }
    for event in &events {
        crate::events::insert_event(&tx, event).map_err(fresh.wrap())?;
    }
    tx.commit().map_err(fresh.wrap())?;
    let _ = fresh.replay_pending();
    Ok(Some(Salvaged {
        moved_to,
        problem,
        events: events.len(),
        releases: releases.len(),
    }))
}

/// What SQLite's integrity check says is wrong with the ledger at `path`,
/// if anything (reads only; works on a full disk).
pub fn damage(path: &Path) -> Option<String> {
    if !path.exists() {
        return None;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match rusqlite::Connection::open_with_flags(path, flags) {
        Ok(conn) => conn,
        Err(error) => return Some(error.to_string()),
    };
    match conn.query_row("PRAGMA quick_check", [], |row| row.get::<_, String>(0)) {
        Ok(verdict) if verdict == "ok" => None,
        Ok(verdict) => Some(verdict),
        Err(error) => Some(error.to_string()),
    }
}

/// Every event and release row that can still be read, in original order.
fn read_what_remains(path: &Path) -> (Vec<Event>, Vec<ReleaseRow>) {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let uri = format!("file:{}?immutable=1", path.display());
    let Ok(conn) = rusqlite::Connection::open_with_flags(uri, flags) else {
        return (Vec::new(), Vec::new());
    };
    let mut events = BTreeMap::new();
    for order in ["ASC", "DESC"] {
        read_until_broken(
            &conn,
            &format!("SELECT * FROM events ORDER BY seq {order}"),
            |row| Ok((row.get::<_, i64>("seq")?, Event::from_row(row)?)),
            |(seq, event)| {
                events.insert(seq, event);
            },
        );
    }
    let mut releases = BTreeMap::new();
    for order in ["ASC", "DESC"] {
        read_until_broken(
            &conn,
            &format!("SELECT * FROM releases ORDER BY id {order}"),
            ReleaseRow::from_row,
            |row| {
                releases.insert(row.id.clone(), row);
            },
        );
    }
    (
        events.into_values().collect(),
        releases.into_values().collect(),
    )
}

/// Runs `sql`, handing each row to `keep` until a row cannot be read.
fn read_until_broken<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    mut keep: impl FnMut(T),
) {
    let Ok(mut statement) = conn.prepare(sql) else {
        return;
    };
    let Ok(mut rows) = statement.query([]) else {
        return;
    };
    while let Ok(Some(row)) = rows.next() {
        match read(row) {
            Ok(value) => keep(value),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intact_ledger_is_left_alone_and_a_damaged_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let ledger = Ledger::open(&path).unwrap();
            for index in 0..300 {
                let event = Event {
                    op_id: format!("op-{index}"),
                    detail: Some("x".repeat(200)),
                    ..Event::one_off("deploy", "alice".into(), "web1".into())
                };
                ledger.record(&event).unwrap();
            }
        }
        assert_eq!(salvage(&path).unwrap(), None);
        // Garbage over the second page, as the hostile-input review did.
        let mut bytes = std::fs::read(&path).unwrap();
        for byte in &mut bytes[4096..4096 + 512] {
            *byte = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let salvaged = salvage(&path).unwrap().expect("damage found");
        assert!(salvaged.moved_to.exists());
        let fresh = Ledger::open(&path).unwrap();
        fresh.check_writable().unwrap();
        assert_eq!(fresh.events(1000).unwrap().len(), salvaged.events);
        assert!(salvaged.events < 300, "{salvaged:?}");
    }
}
