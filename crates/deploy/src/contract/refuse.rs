//! The refusal of a contract or an abort while a release on the side it
//! drops serves on this host, naming the releases and the way out.

use super::{ContractError, End, Role, Serving};

/// Refuses `end` of `migration` while a release on the side it drops serves here.
pub(super) fn refuse(end: End, migration: &str, serving: &[Serving]) -> Result<(), ContractError> {
    let blocking: Vec<&Serving> = serving.iter().filter(|s| s.side == end.dropped()).collect();
    let Some(first) = blocking.first() else {
        return Ok(());
    };
    let names = blocking.iter().map(|serving| serving.describe()).collect();
    let release = &first.running.release;
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
            "deploy a release whose migrations include `{migration}` first, or give the new shape up with `hoist db abort`"
        ),
        (End::Abort, Role::Live | Role::Current) => format!(
            "`hoist rollback` to a release without `{migration}` first (`hoist rollback --with-db` rolls back and aborts in one), or keep the new shape with `hoist db complete`"
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

    #[test]
    fn a_contract_is_refused_naming_the_old_side_and_the_way_out() {
        let here = [
            serving("v2", Role::Live, Side::New),
            serving("v1", Role::Warm, Side::Old),
        ];
        let refused = refuse(End::Complete, "0005_rename", &here).unwrap_err();
        let message = refused.to_string();
        assert!(message.contains("`v1` (warm)"), "{message}");
        assert!(
            message.contains("`0005_rename`") && !message.contains("`v2`"),
            "{message}"
        );
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(hint.contains("rollback window"), "{hint}");
        // The abort drops what v2 reads: refused the other way round.
        let refused = refuse(End::Abort, "0005_rename", &here).unwrap_err();
        assert!(refused.to_string().contains("`v2` (live)"), "{refused}");
        let hint = hoist_error::Described::hint(&refused).unwrap();
        assert!(hint.contains("hoist rollback"), "{hint}");
    }

    #[test]
    fn nothing_on_the_dropped_side_lets_it_through() {
        let here = [serving("v2", Role::Current, Side::New)];
        assert!(refuse(End::Complete, "0005_rename", &here).is_ok());
        let here = [serving("v1", Role::Current, Side::Old)];
        assert!(refuse(End::Abort, "0005_rename", &here).is_ok());
        assert!(refuse(End::Complete, "0005_rename", &[]).is_ok());
    }
}
