//! Times computed from configured durations. Durations are bounded where
//! they are read (a year at most), but no arithmetic on time may panic the
//! agent whatever reaches it: these saturate instead.

use std::time::Duration;

/// `now + after`, or the end of time if that does not fit.
pub(crate) fn timestamp_after(after: Duration) -> jiff::Timestamp {
    jiff::SignedDuration::try_from(after)
        .ok()
        .and_then(|after| jiff::Timestamp::now().checked_add(after).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

/// `now + after` on the monotonic clock, or as far as it goes.
pub(crate) fn instant_after(after: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(after)
        .unwrap_or_else(|| now + hoist_config::MAX_DURATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_durations_saturate() {
        assert_eq!(timestamp_after(Duration::MAX), jiff::Timestamp::MAX);
        assert!(instant_after(Duration::MAX) > std::time::Instant::now());
        let year = timestamp_after(hoist_config::MAX_DURATION);
        assert!(year > jiff::Timestamp::now() && year < jiff::Timestamp::MAX);
    }
}
