//! What the emergency paths (`rollback`, `recover`) do first on a full
//! disk: free the site's reserve, so that they can still take the lock,
//! journal, switch and record. The reserve is made again by the next
//! operation that finds room for it.

use crate::{Context, Reporter};

/// Frees the reserve if the disk is full, and says so; says so too when
/// the disk is full and the reserve is already spent.
pub(crate) fn make_room(context: &Context, op: &str, reporter: &dyn Reporter) {
    let root = context.site.root().display();
    match context.site.use_reserve_if_full() {
        Some(true) => reporter.warn(&format!(
            "the disk holding `{root}` is full: freed hoist's {} MiB reserve so that this {op} can be journaled and recorded; free some space (`hoist prune`, old logs), and the reserve is made again",
            hoist_site::RESERVE_BYTES / (1024 * 1024)
        )),
        Some(false) => reporter.warn(&format!(
            "the disk holding `{root}` is full and hoist's reserve is already spent: this {op} may fail for want of space; free some (`hoist prune`, old logs, `shared/`) and run it again"
        )),
        None => {}
    }
}
