//! The refusal of a contract or an abort while a release on the side it
//! drops serves on this host, naming the releases and the way out.

use super::{ContractError, End, Role, Serving};
use hoist_db::expand::OpenExpansion;

/// Refuses `end` of `open` while a release on the side it drops serves
/// here. The way out offers the other end only when it would go through.
pub(super) fn refuse(
    end: End,
    open: &OpenExpansion,
    serving: &[Serving],
) -> Result<(), ContractError> {
    let migration = &open.name;
    let blocking: Vec<&Serving> = serving.iter().filter(|s| s.side == end.dropped()).collect();
    let Some(first) = blocking.first() else {
        return Ok(());
    };
    let names = blocking.iter().map(|serving| serving.describe()).collect();
    let release = &first.running.release;
    // The other end is refused too while a release on the other side serves.
    let other_free = serving.iter().all(|s| s.side == end.dropped());
    let no_down = open.no_down.map(|op| {
        format!(" (`hoist db abort` cannot give it up: its op {op} (`sql`) has no `down`)")
    });
    let or_abort = match (&no_down, other_free) {
        (Some(why), _) => why.clone(),
        (None, true) => ", or give the new shape up with `hoist db abort`".to_owned(),
        (None, false) => String::new(),
    };
    let or_complete = match other_free {
        true => ", or keep the new shape with `hoist db complete`",
        false => "",
    };
    let fix = match (end, first.running.role) {
        (_, Role::Warm) => format!(
            "wait until `{release}`'s rollback window ends{} (the agent stops it then), then run this again",
            first
                .running
                .until
                .map(|until| format!(" at {}", until.strftime("%H:%M:%SZ")))
                .unwrap_or_default()
        ),
        (_, Role::Candidate) => "`hoist abort` stops the held candidate; then run this again".to_owned(),
        (End::Complete, Role::Live | Role::Current) => format!(
            "deploy a release whose migrations include `{migration}` first{or_abort}"
        ),
        (End::Abort, Role::Live | Role::Current) if no_down.is_some() => format!(
            "`hoist rollback` to a release without `{migration}` first (it keeps the expansion); then undo op {} (`sql`) by hand with `psql` and run `hoist db abort --sql-undone`{or_complete}",
            open.no_down.unwrap_or_default()
        ),
        (End::Abort, Role::Live | Role::Current) => format!(
            "`hoist rollback` to a release without `{migration}` first (`hoist rollback --with-db` rolls back and aborts in one){or_complete}"
        ),
    };
    Err(match end {
        End::Complete => ContractError::OldSideServes {
            migration: migration.to_owned(),
            serving: names,
            fix,
        },
        End::Abort => ContractError::NewSideServes {
            migration: migration.to_owned(),
            serving: names,
            fix,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Running, Side};

    fn serving(release: &str, role: Role, side: Side) -> Serving {
        Serving {
            running: Running {
                release: release.to_owned(),
                role,
                until: None,
            },
            side,
        }
    }

    /// `0005_rename` open; `no_down`: its `sql` op without `down`.
    fn open(no_down: Option<usize>) -> OpenExpansion {
        OpenExpansion {
            version: 5,
            name: "0005_rename".to_owned(),
            description: None,
            step: hoist_db::expand::ExpandStep::Expanded,
            new_releases: vec!["v2".to_owned()],
            started_at: String::new(),
            started_by: String::new(),
            backfill: Vec::new(),
            failed: None,
            faults: 0,
            fault_rows: Vec::new(),
            no_down,
        }
    }

    #[test]
    fn abort_refusal_offered_complete_while_complete_is_refused() {
        // `db abort`'s hint offered `hoist db complete` while v1 was warm
        // on the old side, where the contract is refused as well.
        let here = [
            serving("v2", Role::Live, Side::New),
            serving("v1", Role::Warm, Side::Old),
        ];
        let refused = refuse(End::Abort, &open(None), &here).unwrap_err();
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(
            !hint.contains("db complete") && hint.contains("hoist rollback"),
            "{hint}"
        );
        let alone = [serving("v2", Role::Live, Side::New)];
        let refused = refuse(End::Abort, &open(None), &alone).unwrap_err();
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(hint.contains("hoist db complete"), "{hint}");
    }

    #[test]
    fn complete_refusal_offered_an_abort_that_no_down_refuses() {
        // With an `sql` op without `down` open, `db complete`'s refusal
        // offered `hoist db abort`, which then failed with `cannot-abort`.
        let here = [serving("v1", Role::Current, Side::Old)];
        let refused = refuse(End::Complete, &open(Some(1)), &here).unwrap_err();
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(
            !hint.contains("give the new shape up with `hoist db abort`")
                && hint.contains("op 1 (`sql`) has no `down`"),
            "{hint}"
        );
        let refused = refuse(End::Complete, &open(None), &here).unwrap_err();
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(hint.contains("hoist db abort"), "{hint}");
    }

    #[test]
    fn a_contract_is_refused_naming_the_old_side_and_the_way_out() {
        let here = [
            serving("v2", Role::Live, Side::New),
            serving("v1", Role::Warm, Side::Old),
        ];
        let refused = refuse(End::Complete, &open(None), &here).unwrap_err();
        let message = refused.to_string();
        assert!(message.contains("`v1` (warm)"), "{message}");
        assert!(
            message.contains("`0005_rename`") && !message.contains("`v2`"),
            "{message}"
        );
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(hint.contains("rollback window"), "{hint}");
        // The abort drops what v2 reads: refused the other way round.
        let refused = refuse(End::Abort, &open(None), &here).unwrap_err();
        assert!(refused.to_string().contains("`v2` (live)"), "{refused}");
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(hint.contains("hoist rollback"), "{hint}");
    }

    #[test]
    fn nothing_on_the_dropped_side_lets_it_through() {
        let here = [serving("v2", Role::Current, Side::New)];
        assert!(refuse(End::Complete, &open(None), &here).is_ok());
        let here = [serving("v1", Role::Current, Side::Old)];
        assert!(refuse(End::Abort, &open(None), &here).is_ok());
        assert!(refuse(End::Complete, &open(None), &[]).is_ok());
    }
}
