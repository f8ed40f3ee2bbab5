//! What the emergency paths (`rollback`, `recover`) do first on a full
//! disk: free the site's reserve, so that they can still take the lock,
//! journal, switch and record. The reserve is made again by the next
//! operation that finds room for it.

use crate::{Context, Reporter};

/// Frees the reserve if the disk is full, and says so.
pub(crate) fn make_room(context: &Context, op: &str, reporter: &dyn Reporter) {
    if context.site.use_reserve_if_full() {
        reporter.warn(&format!(
            "the disk holding `{}` is full: freed hoist's {} MiB reserve so that this {op} can be journaled and recorded; free some space (`hoist prune`), and the reserve is made again",
            context.site.root().display(),
            hoist_site::RESERVE_BYTES / (1024 * 1024)
        ));
    }
}
