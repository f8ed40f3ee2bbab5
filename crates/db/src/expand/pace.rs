//! How fast the backfill goes: it yields to the live site instead of
//! racing it. A batch that ran long (a busy database, wide rows, a slow
//! expression) makes the next one smaller, so no batch holds its row locks
//! for long; a quick one lets the size grow back to `[database]
//! backfill_batch`. After each batch the backfill pauses at least
//! `backfill_pause` and at least [`REST_PER_WORK`] times as long as the
//! batch took, so it takes at most a fifth of the database's time
//! whatever the machine: a fixed pause alone let a backfill take most of a
//! small machine's time (half the app's throughput in `bench/expand.sh`).

use std::time::Duration;

/// The longest a batch should run; past it the next one is halved.
pub(crate) const BATCH_BUDGET: Duration = Duration::from_millis(50);

/// Rest after a batch, per unit of the batch's own time.
pub(crate) const REST_PER_WORK: u32 = 4;

/// The smallest batch: below it a batch's fixed costs dominate.
const MIN_ROWS: u32 = 10;

/// The backfill's pace, adjusted after every batch.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    rows: u32,
    most: u32,
    pause: Duration,
}

impl Pace {
    /// Starts at `rows` per batch (also the most), pausing at least `pause`.
    pub(crate) fn new(rows: u32, pause: Duration) -> Pace {
        let most = rows.max(1);
        Pace {
            rows: most,
            most,
            pause,
        }
    }

    /// Rows for the next batch.
    pub(crate) fn rows(&self) -> u32 {
        self.rows
    }

    /// A batch took `took`: sizes the next one and says how long to rest.
    pub(crate) fn after(&mut self, took: Duration) -> Duration {
        if took > BATCH_BUDGET {
            self.rows = (self.rows / 2).max(MIN_ROWS.min(self.most));
        } else if took < BATCH_BUDGET / 4 {
            self.rows = self.rows.saturating_mul(2).min(self.most);
        }
        self.pause.max(took * REST_PER_WORK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_batch_halves_the_next_and_rests_four_times_as_long() {
        let mut pace = Pace::new(1000, Duration::from_millis(10));
        let rest = pace.after(Duration::from_millis(120));
        assert_eq!((pace.rows(), rest), (500, Duration::from_millis(480)));
    }

    #[test]
    fn quick_batches_grow_back_to_the_setting_and_rest_at_least_the_pause() {
        let mut pace = Pace::new(1000, Duration::from_millis(10));
        pace.after(Duration::from_millis(200));
        pace.after(Duration::from_millis(200));
        assert_eq!(pace.rows(), 250);
        for _ in 0..4 {
            assert_eq!(
                pace.after(Duration::from_millis(1)),
                Duration::from_millis(10)
            );
        }
        assert_eq!(pace.rows(), 1000);
    }

    #[test]
    fn never_below_ten_rows_nor_above_the_setting() {
        let mut pace = Pace::new(1000, Duration::ZERO);
        for _ in 0..20 {
            pace.after(Duration::from_secs(1));
        }
        assert_eq!(pace.rows(), 10);
        let mut tiny = Pace::new(4, Duration::ZERO);
        tiny.after(Duration::from_secs(1));
        assert_eq!(tiny.rows(), 4);
    }
}
