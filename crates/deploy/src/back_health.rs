//! After switching back (external mode): the old release's restart is
//! awaited and checked like any other, so "switched back to `v4`" is said
//! only once `v4` answers `health`, and otherwise says that it does not.
//!
//! The same proof as a forward restart ([`crate::proof`]) with the old
//! release as its target: the release that failed must no longer be what
//! answers. A proof that cannot place the process warns instead of failing.

use crate::{listeners, Context, Reporter};
use hoist_config::Deploy;

/// Waits for `health` to answer 2xx from `restored` (restarted at `began`,
/// in ticks since boot, if a restart ran); `Err` says why it does not.
pub(crate) fn check(
    context: &Context,
    settings: &Deploy,
    restored: &str,
    failed: &str,
    began: Option<u64>,
    reporter: &dyn Reporter,
) -> Result<(), String> {
    let Some(url) = &settings.health else {
        return Ok(());
    };
    reporter.step("health", &format!("{url} (`{restored}` again)"));
    crate::activate::wait_proven(
        context,
        settings,
        url,
        restored,
        Some(failed),
        began,
        reporter,
    )
}

/// Ticks since boot now, for [`check`]'s `began`.
pub(crate) fn now() -> Option<u64> {
    listeners::now_ticks()
}
